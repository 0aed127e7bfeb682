"""One JSON error shape, produced here and nowhere else."""

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adstats.errors import StorageError, TooManyRequests, UserError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json")


async def _user_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UserError)
    response = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(400, "bad_request", f"{where}: {first.get('msg', 'invalid')}")


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _storage_error(_request: Request, exc: Exception) -> Response:
    # The transaction was rolled back: nothing of the request was applied.
    log.error("storage failure: %s", exc)
    return error_response(
        503, "storage_unavailable", f"{exc}; nothing was changed, retry later"
    )


class InternalErrors:
    """Turns an unexpected exception into the JSON 500 and keeps the
    connection usable. (Starlette's own catch-all re-raises after answering,
    which makes the server drop the connection under the client.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            # The path only: a query string may hold a key.
            log.exception(
                "internal error on %s %s", scope.get("method"), scope.get("path")
            )
            if started:
                raise
            response = error_response(
                500, "internal", "internal error; nothing was changed"
            )
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(StorageError, _storage_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(InternalErrors)
