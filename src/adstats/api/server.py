"""Runs the API: opens the store, leaves the note for commands, serves."""

import logging
import time

import uvicorn

from adstats.admin.handoff import write_note
from adstats.admin.local import LocalAdmin
from adstats.api.app import create_app
from adstats.api.context import ApiContext, KeyAuthority
from adstats.api.ratelimit import RateLimiter
from adstats.errors import DatabaseBusy
from adstats.query.answers import StatsAnswers
from adstats.settings import Settings
from adstats.storage.base import Store
from adstats.storage.open import open_store

log = logging.getLogger(__name__)

BUSY_WAIT_SECONDS = 60.0


def open_store_waiting(location: str, wait_seconds: float = BUSY_WAIT_SECONDS) -> Store:
    """Opens the store, waiting while a command (an ingestion, say) holds it."""
    deadline = time.monotonic() + wait_seconds
    warned = False
    while True:
        try:
            return open_store(location)
        except DatabaseBusy:
            if time.monotonic() > deadline:
                raise
            if not warned:
                log.warning("the database is in use by another command; waiting for it")
                warned = True
            time.sleep(0.5)


def build_context(settings: Settings, store: Store) -> ApiContext:
    return ApiContext(
        settings=settings,
        store=store,
        admin=LocalAdmin(store),
        answers=StatsAnswers(store),
        keys=KeyAuthority(store),
        limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
    )


def serve(settings: Settings) -> None:
    store = open_store_waiting(settings.db)
    context = build_context(settings, store)
    context.note = write_note(settings.db, settings.host, settings.port)
    config = uvicorn.Config(
        create_app(context),
        host=settings.host,
        port=settings.port,
        access_log=False,  # a query string may carry an API key
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    try:
        log.info("serving on http://%s:%d/api", settings.host, settings.port)
        server.run()
    finally:
        context.close()
