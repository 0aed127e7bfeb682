"""GET /api/campaigns and /api/campaigns/{campaign_id}."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from adstats.api.encoding import rows_response
from adstats.api.routes.common import (
    CampaignParameters,
    authorized_account,
    cached_answer,
    checked_id,
    context,
    stats_query,
)
from adstats.api.schemas import CampaignRow, rows_responses
from adstats.query.params import CAMPAIGN_BREAKDOWNS, RANGE_PARAMS

router = APIRouter(tags=["campaign statistics"])
_ALLOWED = RANGE_PARAMS + CAMPAIGN_BREAKDOWNS
_RESPONSES = rows_responses(CampaignRow)


@router.get("/api/campaigns", responses=_RESPONSES, response_class=Response)
async def list_campaigns(request: Request, _parameters: CampaignParameters) -> Response:
    """Statistics of every campaign of the key's account with counted events in
    the range; each campaign has exactly the rows its own request would give."""
    return await _answer(request, None)


@router.get(
    "/api/campaigns/{campaign_id}", responses=_RESPONSES, response_class=Response
)
async def one_campaign(
    request: Request, campaign_id: str, _parameters: CampaignParameters
) -> Response:
    """Statistics of one campaign: one row without breakdowns (zeros when
    idle), one per day with by_day alone, one per combination with data for
    the other breakdowns."""
    return await _answer(request, checked_id(campaign_id, "campaign_id"))


async def _answer(request: Request, campaign_id: str | None) -> Response:
    account = authorized_account(request)
    query = stats_query(request, account, _ALLOWED)
    answers = context(request).answers
    name = f"campaign-{campaign_id}" if campaign_id else "campaigns"
    filename = f"{name}_{query.date_from}_{query.date_to}"

    def answer() -> Response:
        rows = answers.campaign_rows(account, campaign_id, query)
        return rows_response(rows, query.format, filename)

    return await cached_answer(request, account, query, answer)
