"""The error tree of adstats.

AdstatsError
├── UserError          safe to show: says what to change; carries an HTTP status
│   ├── BadRequest     400: a malformed or impossible parameter
│   ├── Unauthorized   401: no key, unknown, revoked or expired key
│   ├── NotFound       404: unknown id, or another account's
│   ├── TooManyRequests 429
│   ├── PayloadTooLarge 413
│   └── CatalogError   a catalog file refused whole
├── DatabaseBusy       another process holds the database and no server takes work
├── StaleCatalog       internal: the catalog changed under a checked batch; check again
└── StorageError       internal: the database failed; nothing of the batch applied
"""


class AdstatsError(Exception):
    """Base of every error adstats raises on purpose."""


class UserError(AdstatsError):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(UserError):
    pass


class Unauthorized(UserError):
    status = 401
    code = "unauthorized"


class NotFound(UserError):
    status = 404
    code = "not_found"


class TooManyRequests(UserError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(UserError):
    status = 413
    code = "payload_too_large"


class CatalogError(UserError):
    code = "invalid_catalog"


class DatabaseBusy(AdstatsError):
    pass


class StorageError(AdstatsError):
    pass


class StaleCatalog(AdstatsError):
    pass
