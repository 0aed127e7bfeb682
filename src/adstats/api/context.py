"""What every route needs, built once per server."""

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from adstats.admin.handoff import ServerNote, remove_note
from adstats.admin.local import LocalAdmin
from adstats.api.cache import AnswerCache
from adstats.api.ratelimit import RateLimiter
from adstats.domain.catalog import Account
from adstats.errors import Unauthorized
from adstats.keys.secrets import check, key_id_of, now
from adstats.query.answers import StatsAnswers
from adstats.settings import Settings
from adstats.storage.base import ApiKeyRecord, Store

log = logging.getLogger(__name__)


class KeyAuthority:
    """Checks secrets against the stored keys, kept in memory.

    Every key change goes through this server (the command line hands its work
    over while the server runs), so the copy is refreshed on each change rather
    than on a timer. Last-used times are gathered and written in the background.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._records: dict[str, ApiKeyRecord] = {}
        self._used: dict[str, datetime] = {}
        self.refresh()

    def refresh(self) -> None:
        records = {r.key_id: r for r in self._store.api_keys()}
        with self._lock:
            self._records = records

    def authenticate(self, secret: str | None) -> ApiKeyRecord:
        if not secret:
            raise Unauthorized(
                "an API key is required: api_key parameter, X-Api-Key header "
                "or Authorization: Bearer"
            )
        when = now()
        key_id = key_id_of(secret)
        record = check(self._records.get(key_id), secret, when)
        with self._lock:
            self._used[key_id] = when
        return record

    def flush_last_used(self) -> None:
        with self._lock:
            used, self._used = self._used, {}
        if used:
            self._store.touch_api_keys(used)


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    admin: LocalAdmin
    answers: StatsAnswers
    keys: KeyAuthority
    limiter: RateLimiter
    cache: AnswerCache = field(default_factory=AnswerCache)
    note: ServerNote | None = None
    _closed: bool = False

    @property
    def admin_token(self) -> str | None:
        return None if self.note is None else self.note.token

    def close(self) -> None:
        """Leaves everything in order; safe to call twice (the app's shutdown
        and the server's exit both call it, and either may not happen)."""
        if self._closed:
            return
        self._closed = True
        if self.note is not None:
            remove_note(self.settings.db, self.note)
        self.keys.flush_last_used()
        self.admin.close()

    def account_of(self, record: ApiKeyRecord) -> Account:
        account = self.store.catalog_state().catalog.accounts.get(record.account_id)
        if account is None:
            raise Unauthorized("the API key's account no longer exists")
        return account
