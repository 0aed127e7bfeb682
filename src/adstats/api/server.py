"""Runs the API: opens the store, leaves the note for commands, serves."""

import logging
import socket
import time

import uvicorn

from adstats.admin.handoff import write_note
from adstats.admin.local import LocalAdmin
from adstats.api.app import create_app
from adstats.api.context import ApiContext, KeyAuthority
from adstats.api.ratelimit import RateLimiter
from adstats.errors import DatabaseBusy, UserError
from adstats.query.answers import StatsAnswers
from adstats.settings import Settings
from adstats.storage.base import Store
from adstats.storage.open import open_store

log = logging.getLogger(__name__)

BUSY_WAIT_SECONDS = 60.0


def open_store_waiting(
    location: str,
    memory_limit_mb: int = Settings.memory_limit_mb,
    wait_seconds: float = BUSY_WAIT_SECONDS,
) -> Store:
    """Opens the store, waiting while a command (an ingestion, say) holds it."""
    deadline = time.monotonic() + wait_seconds
    warned = False
    while True:
        try:
            return open_store(location, memory_limit_mb)
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
    store = open_store_waiting(settings.db, settings.memory_limit_mb)
    context = build_context(settings, store)
    try:
        listener = _listen(settings.host, settings.port)
        context.note = write_note(settings.db, settings.host, settings.port)
        config = uvicorn.Config(
            create_app(context),
            access_log=False,  # a query string may carry an API key
            log_config=None,
            lifespan="on",
        )
        log.info("serving on http://%s:%d/api", settings.host, settings.port)
        log.debug(
            "settings: db=%s memory_limit_mb=%d rate_limit=%d burst=%d "
            "max_body_bytes=%d slow_query_ms=%d http_ingestion=%s",
            settings.db,
            settings.memory_limit_mb,
            settings.rate_limit,
            settings.rate_burst,
            settings.max_body_bytes,
            settings.slow_query_ms,
            "on" if settings.ingest_token else "off",  # never the token itself
        )
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        context.close()


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port or a bad address
    is one clear error rather than the server's own exit."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _name, address = infos[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    listener.set_inheritable(True)
    return listener
