"""Schemathesis against a live server: every operation of the published
OpenAPI document, with a valid key, on a server holding a small catalog and
some events. Answers never are 5xx, and their statuses, content types, headers
and bodies are the ones the document declares."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adstats.query.params import CAMPAIGN_BREAKDOWNS
from e2e import (
    HOST,
    CatalogBuilder,
    Placement,
    ServerProcess,
    ident,
    ndjson,
    prepare_db,
)

ACCOUNT, OTHER = ident("a5", 1), ident("a5", 2)
ADVERTISER, OTHER_ADVERTISER = ident("ad5", 1), ident("ad5", 2)
CAMPAIGN, IDLE_CAMPAIGN, OTHER_CAMPAIGN = ident("c5", 1), ident("c5", 2), ident("c5", 3)
INSERTION, VIDEO_INSERTION, OTHER_INSERTION = (
    ident("e5", 1),
    ident("e5", 2),
    ident("e5", 3),
)
BANNER, CLIP, OTHER_CREATIVE = ident("f5", 1), ident("f5", 2), ident("f5", 3)
PAGE, SPORTS = ident("d5", 1), ident("d5", 2)
TOKEN = "schemathesis-ingestion-token-0123"
# Per path: ids of the key's account, of another account's, and of nothing.
UNKNOWN = ident("0", 0)
KNOWN_IDS = {
    "/api/campaigns/": [CAMPAIGN, IDLE_CAMPAIGN, OTHER_CAMPAIGN, UNKNOWN],
    "/api/stats/campaigns/": [CAMPAIGN, IDLE_CAMPAIGN, OTHER_CAMPAIGN, UNKNOWN],
    "/api/stats/insertions/": [INSERTION, VIDEO_INSERTION, OTHER_INSERTION, UNKNOWN],
    "/api/stats/contents/": [PAGE, SPORTS, UNKNOWN],
}

# The ingestion body is NDJSON text: send it as schemathesis sends text/plain.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

MAX_EXAMPLES = 50
OPERATIONS = [
    "GET /api",
    "GET /api/campaigns",
    "GET /api/campaigns/{campaign_id}",
    "GET /api/stats/campaigns",
    "GET /api/stats/campaigns/{entity_id}",
    "GET /api/stats/insertions",
    "GET /api/stats/insertions/{entity_id}",
    "GET /api/stats/contents",
    "GET /api/stats/contents/{entity_id}",
    "POST /ingest",
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass(frozen=True)
class Live:
    server: ServerProcess
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.secret, "Authorization": f"Bearer {TOKEN}"}


def _catalog() -> dict[str, list[dict[str, Any]]]:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Acme", "EUR", "Europe/Paris")
    cat.account(OTHER, "Other", "JPY", "Asia/Tokyo")
    cat.advertiser(ADVERTISER, ACCOUNT, "Acme Brands")
    cat.advertiser(OTHER_ADVERTISER, OTHER, "Other Brands")
    cat.campaign(CAMPAIGN, ACCOUNT, ADVERTISER, "Spring", budget="100.00")
    cat.campaign(IDLE_CAMPAIGN, ACCOUNT, ADVERTISER, "Idle")
    cat.campaign(OTHER_CAMPAIGN, OTHER, OTHER_ADVERTISER, "Elsewhere")
    cat.insertion(INSERTION, CAMPAIGN, "Display", "cpm", "2.50")
    cat.insertion(VIDEO_INSERTION, CAMPAIGN, "Video", "cpv", "0.10")
    cat.insertion(OTHER_INSERTION, OTHER_CAMPAIGN, "Other", "cpc", "3")
    cat.creative(BANNER, ACCOUNT, "Banner")
    cat.creative(CLIP, ACCOUNT, "Clip", "video")
    cat.creative(OTHER_CREATIVE, OTHER, "Other banner")
    cat.content(PAGE, "Front page")
    cat.content(SPORTS, "Sports")
    return cat.document()


def _events() -> bytes:
    display = Placement(CAMPAIGN, INSERTION, BANNER, PAGE)
    video = Placement(CAMPAIGN, VIDEO_INSERTION, CLIP)
    other = Placement(OTHER_CAMPAIGN, OTHER_INSERTION, OTHER_CREATIVE, SPORTS)
    events = []
    for day in range(1, 4):
        ts = f"2024-03-{day:02d}T10:00:00Z"
        for n, kind in enumerate(("impression", "visible_impression", "click")):
            events.append(display.event(f"d{day}-{n}", kind, ts, f"di{day}"))
        for n, kind in enumerate(("video_impression", "video_start", "video_complete")):
            events.append(video.event(f"v{day}-{n}", kind, ts, f"vi{day}"))
        events.append(other.event(f"o{day}", "click", ts, f"oi{day}"))
    return ndjson(events)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("schemathesis") / "stats.duckdb"
    prepared = prepare_db(db, _catalog(), [_events()], [(ACCOUNT, "schemathesis")])
    assert prepared.reports[0]["rejected"] == []
    server = ServerProcess(
        db, {"ADSTATS_RATE_LIMIT": "0", "ADSTATS_INGEST_TOKEN": TOKEN}
    ).start()
    try:
        yield Live(server, prepared.secrets["schemathesis"])
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(live: Live) -> schemathesis.BaseSchema:
    base_url = live.server.base_url
    assert base_url.startswith(f"http://{HOST}:")
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", timeout=10)
    schema.config.update(base_url=base_url)
    return schema


def test_every_operation_is_tested(api_schema: schemathesis.BaseSchema) -> None:
    labels = [
        result.ok().label
        for result in api_schema.get_all_operations()
        if isinstance(result, Ok)
    ]

    assert sorted(labels) == sorted(OPERATIONS)


def _days() -> st.SearchStrategy[str]:
    return st.dates(date(2024, 2, 27), date(2024, 3, 6)).map(date.isoformat)


def _booleans() -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "false", "1", "0", "TRUE", "False"])


def _valid_query(
    secret: str, campaign_family: bool
) -> st.SearchStrategy[dict[str, str]]:
    """Parameters the API accepts, the key among them (or schemathesis would
    generate one), so that many answers are 200s with rows."""
    optional: dict[str, st.SearchStrategy[str]] = {
        "date_from": _days(),
        "date_to": _days(),
        "by_day": _booleans(),
        "format": st.sampled_from(["json", "csv"]),
    }
    if campaign_family:
        optional |= {name: _booleans() for name in CAMPAIGN_BREAKDOWNS}
    return st.fixed_dictionaries(
        {"api_key": st.just(secret)}, optional=optional
    ).filter(lambda q: q.get("date_from", "") <= q.get("date_to", "9"))


def _cases(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, secret: str
) -> st.SearchStrategy[Case[Any]]:
    """Schemathesis' own cases, and (positive mode) cases with parameters the
    API accepts and ids it knows, so that many answers are 200s with rows."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE or operation.method.upper() != "GET":
        return generated
    names = [p.name for p in operation.path_parameters]
    if names == []:
        paths: st.SearchStrategy[dict[str, str]] = st.just({})
    else:
        known = KNOWN_IDS[operation.path.removesuffix(f"{{{names[0]}}}")]
        paths = st.sampled_from(known).map(lambda found: {names[0]: found})
    query = _valid_query(secret, operation.path.startswith("/api/campaigns"))
    accepted = st.tuples(paths, query).flatmap(
        lambda pq: operation.as_strategy(path_parameters=pq[0], query=pq[1])
    )
    return st.one_of(generated, accepted)


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        pytest.param(label, mode, id=f"{label}-{mode}")
        for label in OPERATIONS
        for mode in GenerationMode
        if (label, mode) != ("GET /api", GenerationMode.NEGATIVE)
    ],
)
def test_operation_conforms_to_the_document(
    api_schema: schemathesis.BaseSchema, live: Live, label: str, mode: GenerationMode
) -> None:
    """Positive cases follow the document, negative ones break it (GET /api
    has no parameter to break). Either way the answer is never a 5xx and is
    exactly what the document declares for it."""
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    seen: Counter[tuple[int, str]] = Counter()

    def validate(case: Case[Any]) -> None:
        response = case.call_and_validate(
            base_url=live.server.base_url,
            headers=live.headers,
            checks=CHECKS,
            timeout=30,
        )
        seen[response.status_code, response.headers.get("content-type", [""])[0]] += 1

    @given(case=_cases(operation, mode, live.secret))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def conforms(case: Case[Any]) -> None:
        validate(case)

    conforms()
    if mode is GenerationMode.NEGATIVE:
        return
    if label.startswith("GET /api/"):
        for case in _explicit_cases(operation, live.secret):
            validate(case)
        assert (200, "text/csv; charset=utf-8") in seen, seen
        assert (400, "application/json") in seen, seen
    # The cases reached the data, not only the parameter checks.
    assert (200, "application/json") in seen, seen


def _explicit_cases(
    operation: APIOperation[Any, Any, Any, Any], secret: str
) -> Iterator[Case[Any]]:
    """Whatever was generated: the days with events, by day, as JSON and as
    CSV, for the first id the key's account owns; and an impossible day."""
    names = [p.name for p in operation.path_parameters]
    ids = {
        name: KNOWN_IDS[operation.path.removesuffix(f"{{{name}}}")][0] for name in names
    }
    days = {"api_key": secret, "date_from": "2024-03-01", "date_to": "2024-03-03"}
    for output in ("json", "csv"):
        query = days | {"by_day": "true", "format": output}
        yield operation.Case(path_parameters=ids, query=query)
    yield operation.Case(path_parameters=ids, query=days | {"date_to": "2024-02-30"})
