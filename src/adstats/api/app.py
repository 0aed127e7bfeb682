"""The FastAPI application, built around one ApiContext."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from adstats import __version__
from adstats.api import errors
from adstats.api.context import ApiContext
from adstats.api.routes import admin, campaigns, ingest, meta, stats

LAST_USED_FLUSH_SECONDS = 30.0

DESCRIPTION = (
    "Exact, real-time, billing-grade campaign statistics. Every statistics "
    "endpoint needs an API key: the api_key parameter, the X-Api-Key header or "
    'Authorization: Bearer. Errors answer {"error": {"code", "message"}}.'
)


async def _flush_last_used(context: ApiContext) -> None:
    """Writes when keys were last used, in the background: a write per request
    would cost every request a transaction."""
    while True:
        await asyncio.sleep(LAST_USED_FLUSH_SECONDS)
        await run_in_threadpool(context.keys.flush_last_used)


def create_app(context: ApiContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_flush_last_used(context))
        yield
        flusher.cancel()
        context.close()

    app = FastAPI(
        title="adstats",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # A redirect would repeat the query string, key included, and its
        # host would come from the client's Host header.
        redirect_slashes=False,
    )
    app.state.context = context
    errors.install(app)
    for module in (meta, campaigns, stats, ingest, admin):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 answers it adds to every route: adstats
    answers a bad request with 400 and its own error body."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema
