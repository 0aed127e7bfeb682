"""Making and checking API key secrets."""

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from adstats.errors import Unauthorized
from adstats.storage.base import ApiKeyRecord

SECRET_PREFIX = "ads_"
_SECRET = re.compile(SECRET_PREFIX + r"([0-9a-f]{24})_[A-Za-z0-9_-]{43}")


def now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_key(
    account_id: str,
    name: str,
    description: str | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiKeyRecord, str]:
    """A new key record and its secret."""
    key_id = secrets.token_hex(12)
    secret = f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(
        key_id=key_id,
        account_id=account_id,
        name=name,
        description=description,
        created_at=now(),
        expires_in_days=expires_in_days,
        revoked_at=None,
        last_used_at=None,
        secret_hash=hash_secret(secret),
    )
    return record, secret


def key_id_of(secret: str) -> str:
    """The key id a secret names; the message never repeats the secret."""
    match = _SECRET.fullmatch(secret)
    if match is None:
        raise Unauthorized("the API key is not one adstats issued; check for a typo")
    return match.group(1)


def expires_at(record: ApiKeyRecord) -> datetime | None:
    if record.expires_in_days is None:
        return None
    return record.created_at + timedelta(days=record.expires_in_days)


def check(record: ApiKeyRecord | None, secret: str, when: datetime) -> ApiKeyRecord:
    """The record, if the secret matches it and the key is still valid."""
    if record is None or not hmac.compare_digest(
        record.secret_hash, hash_secret(secret)
    ):
        raise Unauthorized("unknown API key; create one with `adstats keys create`")
    if record.revoked_at is not None:
        raise Unauthorized(f"API key {record.key_id} was revoked; use another key")
    expiry = expires_at(record)
    if expiry is not None and when >= expiry:
        raise Unauthorized(f"API key {record.key_id} expired; create a new key")
    return record
