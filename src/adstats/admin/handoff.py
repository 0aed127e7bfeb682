"""The note a running server leaves next to its database, so that commands run
while it holds the file can hand their work to it.

The note holds the server's loopback address and a random token; it is written
with owner-only permissions, so the token grants no more than write access to
the database directory already does.
"""

import ipaddress
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerNote:
    pid: int
    host: str
    port: int
    token: str

    @property
    def base_url(self) -> str:
        host = _loopback_for(self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"


def note_path(db_path: str) -> Path:
    return Path(f"{db_path}.server.json")


def write_note(db_path: str, host: str, port: int) -> ServerNote:
    note = ServerNote(os.getpid(), host, port, secrets.token_urlsafe(32))
    path = note_path(db_path)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(note), handle)
    temporary.replace(path)
    return note


def read_note(db_path: str) -> ServerNote | None:
    try:
        data = json.loads(note_path(db_path).read_text())
        return ServerNote(int(data["pid"]), str(data["host"]), int(data["port"]),
                          str(data["token"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_note(db_path: str, note: ServerNote) -> None:
    if read_note(db_path) == note:
        note_path(db_path).unlink(missing_ok=True)


def _loopback_for(host: str) -> str:
    """Where a command on this machine reaches a server bound to host."""
    if host in ("", "0.0.0.0", "localhost"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return host
