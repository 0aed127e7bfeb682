"""The loopback door for commands run while this server holds the database.

Not part of the public API (hidden from the OpenAPI document): every call needs
the token from the server's note next to the database.
"""

import hmac
import ipaddress
import logging

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from adstats.admin.remote import ADMIN_HEADER
from adstats.api.encoding import json_response
from adstats.api.routes.common import context
from adstats.api.routes.ingest import read_body
from adstats.errors import BadRequest, NotFound, Unauthorized
from adstats.ingest.reader import chunk_of_bytes

router = APIRouter(include_in_schema=False)
log = logging.getLogger("adstats.ingest")
_MAX_ADMIN_BODY = 256 * 1024 * 1024


def _authorize(request: Request) -> None:
    client = request.client.host if request.client else ""
    if not _is_loopback(client):
        raise NotFound("Not Found")
    token = context(request).admin_token
    given = request.headers.get(ADMIN_HEADER, "")
    if token is None or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("wrong admin token")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _json_body(request: Request) -> dict[str, object]:
    try:
        data = orjson.loads(await read_body(request, _MAX_ADMIN_BODY))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


@router.post("/_admin/catalog")
async def load_catalog(request: Request) -> Response:
    _authorize(request)
    document = await _json_body(request)
    ctx = context(request)
    summary = await run_in_threadpool(ctx.admin.load_catalog, document)
    return json_response({"changed": summary.changed})


@router.post("/_admin/catalog/document")
async def catalog_document(request: Request) -> Response:
    _authorize(request)
    return json_response(context(request).admin.catalog_document())


@router.post("/_admin/ingest")
async def ingest(request: Request) -> Response:
    _authorize(request)
    data = await read_body(request, _MAX_ADMIN_BODY)
    report = await run_in_threadpool(
        context(request).admin.ingest_chunk, chunk_of_bytes(data)
    )
    return json_response(report.as_json())


@router.post("/_admin/keys")
async def create_key(request: Request) -> Response:
    _authorize(request)
    body = await _json_body(request)
    ctx = context(request)
    expires = body.get("expires_in_days")
    if expires is not None and (
        not isinstance(expires, int) or isinstance(expires, bool)
    ):
        raise BadRequest("--expires-in-days must be a whole number of days")
    fields, secret = await run_in_threadpool(
        ctx.admin.create_key,
        str(body.get("account_id", "")),
        str(body.get("name", "")),
        None if body.get("description") is None else str(body["description"]),
        expires,
    )
    ctx.keys.refresh()
    return json_response({"key": fields, "secret": secret})


@router.post("/_admin/keys/list")
async def list_keys(request: Request) -> Response:
    _authorize(request)
    body = await _json_body(request)
    ctx = context(request)
    ctx.keys.flush_last_used()
    return json_response(ctx.admin.list_keys(str(body.get("account_id", ""))))


@router.post("/_admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    _authorize(request)
    ctx = context(request)
    fields = await run_in_threadpool(ctx.admin.revoke_key, key_id)
    ctx.keys.refresh()
    return json_response(fields)
