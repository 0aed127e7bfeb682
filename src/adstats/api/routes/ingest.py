"""POST /ingest: NDJSON events over HTTP, into the same pipeline as the CLI.

A body is one chunk, applied in one transaction: a 5xx means nothing of it was
applied, so a client can always retry the whole body.
"""

import hmac
import logging
import zlib

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from adstats.api.encoding import json_response
from adstats.api.routes.common import context
from adstats.api.schemas import ErrorBody, IngestReportBody
from adstats.errors import BadRequest, PayloadTooLarge, Unauthorized, UserError
from adstats.ingest.reader import chunk_of_bytes

router = APIRouter(tags=["ingestion"])
log = logging.getLogger("adstats.ingest")

# A gzip body may expand at most this much, so a small bomb cannot fill memory.
MAX_EXPANSION = 8


class IngestionOff(UserError):
    status = 403
    code = "ingestion_off"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes; send smaller batches")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLarge(
                f"the body is over {limit} bytes; send smaller batches"
            )
    return bytes(body)


def gunzip(body: bytes, limit: int) -> bytes:
    """Every gzip member of the body (as `cat a.gz b.gz` makes), held to the
    expansion limit all together."""
    most = limit * MAX_EXPANSION
    parts: list[bytes] = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            part = inflater.decompress(rest, most - size + 1)
        except zlib.error:
            raise BadRequest(
                "Content-Encoding is gzip but the body is not gzip data"
            ) from None
        size += len(part)
        if size > most:
            raise PayloadTooLarge(
                "the decompressed body is too large; send smaller batches"
            )
        if not inflater.eof:
            raise BadRequest("the gzip body is truncated")
        parts.append(part)
        rest = inflater.unused_data
    return b"".join(parts)


async def events_of(request: Request, limit: int) -> bytes:
    body = await read_body(request, limit)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        return gunzip(body, limit)
    if encoding not in ("identity", ""):
        raise BadRequest(
            f"Content-Encoding {encoding[:20]!r} is not supported; use gzip"
        )
    return body


@router.post(
    "/ingest",
    responses={
        200: {"model": IngestReportBody},
        401: {"model": ErrorBody, "description": "Wrong or missing ingestion token."},
        403: {"model": ErrorBody, "description": "Ingestion over HTTP is off."},
        413: {"model": ErrorBody, "description": "The body is over the limit."},
    },
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Events as NDJSON, one JSON object per line; "
            "Content-Encoding: gzip accepted.",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def ingest(request: Request) -> Response:
    """Ingests an NDJSON body (gzip accepted) with `Authorization: Bearer
    <ADSTATS_INGEST_TOKEN>`; answers the ingestion report."""
    ctx = context(request)
    token = ctx.settings.ingest_token
    if token is None:
        raise IngestionOff("ingestion over HTTP is off; start the server with "
                           "ADSTATS_INGEST_TOKEN set")  # fmt: skip
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized(
            "wrong or missing ingestion token: Authorization: Bearer ..."
        )
    data = await events_of(request, ctx.settings.max_body_bytes)
    report = await run_in_threadpool(ctx.admin.ingest_chunk, chunk_of_bytes(data))
    log.debug("ingestion batch: accepted=%d duplicates=%d rejected=%d",
              report.accepted, report.duplicates, len(report.rejected))  # fmt: skip
    if report.rejected:
        first = report.rejected[0]
        log.info("ingestion rejected %d lines; first: line %d: %s",
                 len(report.rejected), first.line, first.reason)  # fmt: skip
    return json_response(report.as_json())
