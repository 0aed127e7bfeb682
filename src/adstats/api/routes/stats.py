"""GET /api/stats/{campaigns,insertions,contents}[/{id}]: the entity family."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from adstats.api.encoding import rows_response
from adstats.api.routes.common import (
    EntityParameters,
    authorized_account,
    cached_answer,
    checked_id,
    context,
    stats_query,
)
from adstats.api.schemas import entity_row_model, rows_responses
from adstats.query.answers import ENTITY_KINDS
from adstats.query.params import RANGE_PARAMS

router = APIRouter(tags=["entity statistics"])


async def _answer(request: Request, kind: str, entity_id: str | None) -> Response:
    account = authorized_account(request)
    if entity_id is not None:
        checked_id(entity_id, f"{kind[:-1]}_id")
    query = stats_query(request, account, RANGE_PARAMS)
    answers = context(request).answers
    name = f"{kind[:-1]}-{entity_id}" if entity_id else kind
    filename = f"{name}_{query.date_from}_{query.date_to}"

    def answer() -> Response:
        rows = answers.entity_rows(account, kind, entity_id, query)
        return rows_response(rows, query.format, filename)

    return await cached_answer(request, account, query, answer)


def _register(kind: str) -> None:
    responses = rows_responses(entity_row_model(kind))
    singular = kind[:-1]

    async def list_entities(
        request: Request, _parameters: EntityParameters
    ) -> Response:
        return await _answer(request, kind, None)

    async def one_entity(
        request: Request, entity_id: str, _parameters: EntityParameters
    ) -> Response:
        return await _answer(request, kind, entity_id)

    restricted = (
        " restricted to the key's account's campaigns" if kind == "contents" else ""
    )
    router.add_api_route(
        f"/api/stats/{kind}",
        list_entities,
        methods=["GET"],
        responses=responses,
        response_class=Response,
        name=f"list_{kind}_stats",
        description=f"Statistics of every {singular} with counted events in the range"
        f"{restricted}.",
    )
    router.add_api_route(
        f"/api/stats/{kind}/{{entity_id}}",
        one_entity,
        methods=["GET"],
        responses=responses,
        response_class=Response,
        name=f"one_{singular}_stats",
        description=f"Statistics of one {singular}{restricted}: one row (zeros when "
        "idle), or one per day with by_day.",
    )


for _kind in ENTITY_KINDS:
    _register(_kind)
