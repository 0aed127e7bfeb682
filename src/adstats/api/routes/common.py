"""Pieces every statistics route shares: the key, the parameters, timing."""

import logging
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from adstats.api.context import ApiContext
from adstats.domain.catalog import Account, is_entity_id
from adstats.errors import BadRequest
from adstats.query.params import StatsQuery, parse_stats_query

log = logging.getLogger("adstats.api")
T = TypeVar("T")

ApiKey = Annotated[
    str | None,
    Query(
        description="Your API key (or the X-Api-Key header, or Authorization: Bearer)."
    ),
]
DateFrom = Annotated[
    str | None,
    Query(
        description="First day YYYY-MM-DD in the account timezone; default yesterday."
    ),
]
DateTo = Annotated[
    str | None,
    Query(description="Last day YYYY-MM-DD, inclusive; default yesterday."),
]
ByDay = Annotated[str | None, Query(description="true/false/1/0: one row per day.")]
ByInsertion = Annotated[
    str | None, Query(description="true/false/1/0: one row per insertion.")
]
ByContent = Annotated[
    str | None, Query(description="true/false/1/0: one row per content.")
]
ByCreative = Annotated[
    str | None, Query(description="true/false/1/0: one row per creative.")
]
Format = Annotated[str | None, Query(description="json (default) or csv.")]


# The query parameters of the statistics routes, declared once for the OpenAPI
# document, in the order the reference API lists them. The routes read them
# from the request themselves (query.params), so that every mistake gets the
# one error shape. The declarations are async functions: FastAPI would run a
# plain function or a class in a worker thread, a hand-off on every request.


async def campaign_parameters(
    api_key: ApiKey = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    by_day: ByDay = None,
    by_insertion: ByInsertion = None,
    by_content: ByContent = None,
    by_creative: ByCreative = None,
    format: Format = None,
) -> None:
    """The parameters of /api/campaigns."""


async def entity_parameters(
    api_key: ApiKey = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    by_day: ByDay = None,
    format: Format = None,
) -> None:
    """The parameters of /api/stats/..."""


CampaignParameters = Annotated[None, Depends(campaign_parameters)]
EntityParameters = Annotated[None, Depends(entity_parameters)]


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.context
    return ctx


def secret_of(request: Request) -> str | None:
    """The key from the query, the X-Api-Key header or a Bearer token."""
    secret = request.query_params.get("api_key") or request.headers.get("x-api-key")
    if secret:
        return secret
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorized_account(request: Request) -> Account:
    ctx = context(request)
    record = ctx.keys.authenticate(secret_of(request))
    ctx.limiter.take(record.key_id)
    return ctx.account_of(record)


def checked_id(value: str, what: str) -> str:
    if not is_entity_id(value):
        raise BadRequest(f"{what} must be 24 lowercase hexadecimal characters")
    return value


def stats_query(
    request: Request, account: Account, allowed: tuple[str, ...]
) -> StatsQuery:
    return parse_stats_query(
        request.query_params.multi_items(), allowed, account.timezone
    )


async def cached_answer(
    request: Request,
    account: Account,
    query: StatsQuery,
    answer: Callable[[], Response],
) -> Response:
    """The answer for this question on the current data, computed once.

    A kept answer is served from the event loop; computing one (database
    work) runs in a worker thread."""
    ctx = context(request)
    key = (account.id, request.url.path, query, ctx.store.data_version())
    kept = ctx.cache.get(key)
    if kept is not None:
        return kept
    fresh = await run_in_threadpool(timed, request, answer)
    ctx.cache.put(key, fresh)
    return fresh


def timed(request: Request, work: Callable[[], T]) -> T:
    """Runs the work, logging it when slower than the configured threshold."""
    started = time.perf_counter()
    result = work()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if elapsed_ms > context(request).settings.slow_query_ms:
        log.warning("slow query: endpoint=%s ms=%.0f", request.url.path, elapsed_ms)
    return result
