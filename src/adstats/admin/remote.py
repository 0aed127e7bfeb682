"""The operator's verbs handed to the adstats server that holds the database."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from adstats.admin.base import CatalogSummary
from adstats.admin.handoff import ServerNote
from adstats.errors import AdstatsError, UserError
from adstats.ingest.reader import Chunk
from adstats.ingest.report import IngestReport

ADMIN_HEADER = "X-Adstats-Admin"
_TIMEOUT_SECONDS = 600


class ServerUnreachable(AdstatsError):
    pass


class RemoteAdmin:
    def __init__(self, note: ServerNote) -> None:
        self._note = note

    def _call(self, method: str, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(
            self._note.base_url + path,
            data=body,
            method=method,
            headers={
                ADMIN_HEADER: self._note.token,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise _user_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerUnreachable(
                f"the adstats server holding the database did not answer ({exc})"
            ) from None

    def load_catalog(self, document: object) -> CatalogSummary:
        answer = self._call("POST", "/_admin/catalog", json.dumps(document).encode())
        return CatalogSummary(dict(answer["changed"]))

    def catalog_document(self) -> dict[str, Any]:
        return dict(self._call("POST", "/_admin/catalog/document", b"{}"))

    def ingest(
        self, chunks: Iterable[Chunk], progress: Callable[[int], None]
    ) -> IngestReport:
        total = IngestReport()
        for chunk in chunks:
            answer = self._call("POST", "/_admin/ingest", chunk.data)
            report = IngestReport.from_json(answer, line_offset=chunk.first_line - 1)
            report.rejected = sorted(
                chunk.rejections + report.rejected, key=lambda r: r.line
            )
            total.add(report)
            progress(chunk.size)
        return total

    def create_key(
        self,
        account_id: str,
        name: str,
        description: str | None,
        expires_in_days: int | None,
    ) -> tuple[dict[str, Any], str]:
        body = {"account_id": account_id, "name": name, "description": description,
                "expires_in_days": expires_in_days}  # fmt: skip
        answer = self._call("POST", "/_admin/keys", json.dumps(body).encode())
        return dict(answer["key"]), str(answer["secret"])

    def list_keys(self, account_id: str) -> list[dict[str, Any]]:
        body = json.dumps({"account_id": account_id}).encode()
        return list(self._call("POST", "/_admin/keys/list", body))

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/_admin/keys/{key_id}/revoke", b"{}"))

    def close(self) -> None:
        pass


def _user_error(exc: urllib.error.HTTPError) -> AdstatsError:
    try:
        error = json.loads(exc.read())["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        message = f"the server answered HTTP {exc.code}"
    failure = UserError(message)
    failure.status = exc.code
    return failure
