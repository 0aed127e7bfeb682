"""Models that document the answers in the OpenAPI document.

Answers are encoded straight from dicts for speed; these models only describe
them, and a test checks that real answers match them field for field.
"""

from typing import Any

from pydantic import BaseModel, Field, create_model

from adstats.domain.metrics import CAMPAIGN_METRICS, ENTITY_METRICS

_RATES = {"click_through_rate", "video_complete_rate"}

_METRIC_DOCS = {
    "impressions": "Ad views: once per impression_id.",
    "visible_impressions": "Viewable ad views: once per impression_id.",
    "engagements": "First clicks on the creative: once per impression_id.",
    "votes": "Votes on creatives: every event.",
    "clicks": "Exit clicks: every event.",
    "click_through_rate": "clicks / visible_impressions, 6 decimals, 0 when none visible.",
    "form_submissions": "Forms submitted: every event.",
    "optin_submissions": "Opt-ins submitted: every event.",
    "video_impressions": "Video views: once per impression_id.",
    "video_visible_impressions": "Viewable video views: once per impression_id.",
    "video_start": "Video starts: once per impression_id.",
    "video_first_quartile": "Videos played to 25%: once per impression_id.",
    "video_midpoint": "Videos played to 50%: once per impression_id.",
    "video_third_quartile": "Videos played to 75%: once per impression_id.",
    "video_complete": "Videos played to the end: once per impression_id.",
    "video_complete_rate": "video_complete / video_start, 6 decimals, 0 when no start.",
    "billables": "Events charged under the insertion's pricing model, within budgets.",
    "spent": "Amount charged, in the account currency, rounded half-up to its minor unit.",
}
_ENTITY_DOCS = {
    **_METRIC_DOCS,
    "video_starts": _METRIC_DOCS["video_start"],
    "video_first_quartiles": _METRIC_DOCS["video_first_quartile"],
    "video_midpoints": _METRIC_DOCS["video_midpoint"],
    "video_third_quartiles": _METRIC_DOCS["video_third_quartile"],
    "video_completes": _METRIC_DOCS["video_complete"],
}


def _metric_fields(names: tuple[str, ...], docs: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in names:
        kind: Any = float if name in _RATES else int
        if name == "spent":
            kind = float
        fields[name] = (kind, Field(description=docs[name]))
    return fields


def _optional(description: str) -> Any:
    return (str | None, Field(None, description=description))


CampaignRow = create_model(
    "CampaignRow",
    date=_optional("Day YYYY-MM-DD in the account timezone (by_day only)."),
    campaign_id=(str, Field(description="24 hexadecimal characters.")),
    campaign_name=(str, ...),
    insertion_id=_optional("by_insertion only."),
    insertion_name=_optional("by_insertion only."),
    content_id=_optional("by_content only; null for events without a content."),
    content_name=_optional("by_content only; null for events without a content."),
    creative_id=_optional("by_creative only."),
    creative_name=_optional("by_creative only."),
    advertiser_id=(str, ...),
    advertiser_name=(str, ...),
    **_metric_fields(CAMPAIGN_METRICS, _METRIC_DOCS),
)


def entity_row_model(kind: str) -> type[BaseModel]:
    singular = kind[:-1]
    fields: dict[str, Any] = {
        "date": _optional("Day YYYY-MM-DD in the account timezone (by_day only)."),
        f"{singular}_id": (str, ...),
        f"{singular}_name": (str, ...),
        **_metric_fields(ENTITY_METRICS, _ENTITY_DOCS),
    }
    model: type[BaseModel] = create_model(f"{singular.title()}StatsRow", **fields)
    return model


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, e.g. bad_request, not_found.")
    message: str = Field(description="What went wrong and what to change.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class RejectedLine(BaseModel):
    line: int
    reason: str


class IngestReportBody(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedLine]


class ServiceInfo(BaseModel):
    name: str
    version: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A parameter to change."},
    401: {
        "model": ErrorBody,
        "description": "No key, unknown, revoked or expired key.",
    },
    404: {"model": ErrorBody, "description": "Unknown id, or another account's."},
    429: {
        "model": ErrorBody,
        "description": "Over the key's request rate.",
        "headers": {
            "Retry-After": {
                "description": "Whole seconds to wait before retrying.",
                "required": True,
                "schema": {"type": "integer"},
            }
        },
    },
}


def rows_responses(row_model: Any) -> dict[int | str, dict[str, Any]]:
    """The answers of a statistics route: its rows as JSON, or as CSV with
    format=csv, and the errors."""
    return {
        200: {
            "model": list[row_model],
            "description": "The rows: JSON, or RFC 4180 CSV with format=csv.",
            "content": {
                "application/json": {},  # the rows model, filled in by FastAPI
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **ERROR_RESPONSES,
    }
