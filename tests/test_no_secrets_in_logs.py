"""No log line, error or answer ever holds an API key or a token (SPEC
section 6; docs/API.md, docs/OPERATIONS.md "Logs").

A server logging at DEBUG gets every endpoint with good, other-account,
revoked, expired, unknown and malformed keys, the ingestion token and the
admin token, each where it belongs and in odd places (query, headers, Bearer,
date_from, format, a parameter's name, the path, cookies, a POST body, a
Content-Encoding), with errors of every status a client can cause: 400, 401,
403, 404, 405, 413 and 429. Commands run meanwhile hand their work to it (key
creation included). Then every answer and the servers' whole logs are
scanned. A 500 cannot be caused from outside, so it is caused in process.

conftest.py also checks, at the end of the session, that no server of the
whole run logged any secret the run handed out.
"""

import asyncio
import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from adstats.admin.handoff import read_note
from adstats.admin.remote import ADMIN_HEADER
from adstats.api.app import create_app
from adstats.api.server import build_context
from adstats.keys.secrets import new_key, now
from adstats.settings import Settings
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    RUN,
    SECRET_PATTERN,
    ServerProcess,
    leaks_in,
    ndjson,
    prepare_db,
    run_cli,
    run_cli_parallel,
)
from support.world import A1, A2, C1, C9, I1, K1, event, standard_catalog

TOKEN = "no-secrets-ingestion-token-0123456789"
MAX_BODY = 4096
FAKE = "ads_" + "0123456789abcdef01234567" + "_" + "Z" * 43  # well formed, unknown
STATS_PATHS = (
    "/api/campaigns",
    f"/api/campaigns/{C1}",
    "/api/stats/campaigns",
    f"/api/stats/campaigns/{C1}",
    "/api/stats/insertions",
    f"/api/stats/insertions/{I1}",
    "/api/stats/contents",
    f"/api/stats/contents/{K1}",
)
DAY = {"date_from": "2023-01-10", "date_to": "2023-01-10"}


@dataclass
class Seen:
    """Every answer a test got, to scan, and the statuses among them."""

    answers: list[tuple[str, str]] = field(default_factory=list)  # (what, text)
    statuses: set[int] = field(default_factory=set)

    def add(self, what: str, response: httpx.Response) -> httpx.Response:
        self.statuses.add(response.status_code)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.answers.append(
            (what, f"{response.status_code}\n{headers}\n{response.text}")
        )
        return response


@dataclass
class Keys:
    good: str
    other: str  # another account's
    revoked: str
    expired: str
    made_while_serving: str = ""

    def all(self) -> dict[str, str]:
        return {
            "good": self.good,
            "other account": self.other,
            "revoked": self.revoked,
            "expired": self.expired,
            "made while serving": self.made_while_serving,
            "unknown": FAKE,
        }


def _expired_key(db: Path) -> str:
    """A key made two days ago that expired after one."""
    record, secret = new_key(A1, "expired", None, 1)
    store = DuckDBStore(str(db))
    try:
        store.save_api_key(replace(record, created_at=now() - timedelta(days=2)))
    finally:
        store.close()
    RUN.remember(secret)
    return secret


def _prepared(db: Path) -> Keys:
    events = [
        event(f"e{n}", kind, "i1", content_id=K1)
        for n, kind in enumerate(["impression", "visible_impression", "click"])
    ]
    prepared = prepare_db(
        db,
        standard_catalog(),
        [ndjson(events)],
        [(A1, "good"), (A2, "other"), (A1, "to revoke")],
    )
    secrets = prepared.secrets
    return Keys(
        secrets["good"], secrets["other"], secrets["to revoke"], _expired_key(db)
    )


# -- the traffic ------------------------------------------------------------------


def _key_in_every_place(http: httpx.Client, seen: Seen, name: str, secret: str) -> None:
    for path in STATS_PATHS:
        seen.add(
            f"{name} as api_key on {path}",
            http.get(path, params={"api_key": secret, **DAY}),
        )
        seen.add(
            f"{name} as X-Api-Key on {path}",
            http.get(path, params=DAY, headers={"X-Api-Key": secret}),
        )
        seen.add(
            f"{name} as Bearer on {path}",
            http.get(path, params=DAY, headers={"Authorization": f"bearer {secret}"}),
        )
    seen.add(
        f"{name} as Basic",
        http.get("/api/campaigns", headers={"Authorization": f"Basic {secret}"}),
    )
    seen.add(
        f"{name} twice",
        http.get("/api/campaigns", params=[("api_key", secret), ("api_key", secret)]),
    )


def _key_in_odd_places(http: httpx.Client, seen: Seen, good: str, secret: str) -> None:
    """A valid key where it belongs, and secret where it does not."""
    auth = {"X-Api-Key": good}
    for name in ("date_from", "date_to", "by_day", "by_insertion", "format", "colour"):
        for path in ("/api/campaigns", f"/api/stats/contents/{K1}"):
            seen.add(
                f"secret in {name} on {path}",
                http.get(path, params={name: secret}, headers=auth),
            )
    for params in (
        {secret: "1"},
        {"date_from": f"2023-01-01{secret}"},
        {"date_from": f"{secret[:10]}"},
        {"format": f"csv {secret}"},
    ):
        seen.add(
            f"secret in {list(params)}",
            http.get("/api/campaigns", params=params, headers=auth),
        )
    for path in (
        f"/api/campaigns/{secret}",
        f"/api/stats/contents/{secret}",
        f"/api/stats/{secret}",
        f"/api/{secret}",
        f"/{secret}",
        f"/api/campaigns/{C1}/{secret}",
        f"/api/campaigns/{C9}",
    ):
        seen.add(f"secret in path {path[:20]}", http.get(path, headers=auth))
    headers = {
        **auth,
        "Cookie": f"api_key={secret}",
        "User-Agent": secret,
        "Referer": f"http://127.0.0.1/?api_key={secret}",
        "X-Forwarded-For": secret,
    }
    seen.add("secret in other headers", http.get("/api/campaigns", headers=headers))
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        seen.add(
            f"{method} with a key",
            http.request(
                method, "/api/campaigns", params={"api_key": secret}, content=secret
            ),
        )
    seen.add("GET /api with a key", http.get("/api", params={"api_key": secret}))
    seen.add("docs with a key", http.get("/api/docs", params={"api_key": secret}))


def _ingestion_door(http: httpx.Client, seen: Seen, secret: str) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    good = ndjson([event("ingested-1", "impression", "i2"), "not json at all", ""])
    seen.add("ingest", http.post("/ingest", content=good, headers=bearer))
    seen.add(
        "ingest with a key as token",
        http.post(
            "/ingest", content=good, headers={"Authorization": f"Bearer {secret}"}
        ),
    )
    seen.add(
        "ingest with a key as X-Api-Key",
        http.post("/ingest", content=good, headers={"X-Api-Key": secret}),
    )
    seen.add(
        "ingest with a key in the query",
        http.post("/ingest", params={"api_key": secret}, content=good, headers=bearer),
    )
    seen.add(
        "ingest a line that is a key",
        http.post(
            "/ingest", content=f"{secret}\n{{{secret}}}\n".encode(), headers=bearer
        ),
    )
    seen.add(
        "ingest with a key as encoding",
        http.post(
            "/ingest", content=good, headers={**bearer, "Content-Encoding": secret}
        ),
    )
    seen.add(
        "ingest not gzip",
        http.post(
            "/ingest",
            content=secret.encode(),
            headers={**bearer, "Content-Encoding": "gzip"},
        ),
    )
    seen.add(
        "ingest truncated gzip",
        http.post(
            "/ingest",
            content=gzip.compress(secret.encode())[:-8],
            headers={**bearer, "Content-Encoding": "gzip"},
        ),
    )
    seen.add(
        "ingest over the limit",
        http.post(
            "/ingest",
            content=(secret + "\n").encode() * (MAX_BODY // 50),
            headers=bearer,
        ),
    )


def _admin_door(http: httpx.Client, seen: Seen, db: Path, secret: str) -> None:
    note = read_note(str(db))
    assert note is not None
    RUN.remember(note.token)
    admin = {ADMIN_HEADER: note.token}
    seen.add(
        "admin with a key as token",
        http.post("/_admin/keys/list", headers={ADMIN_HEADER: secret}, content=b"{}"),
    )
    seen.add(
        "admin token as api_key",
        http.get("/api/campaigns", params={"api_key": note.token}),
    )
    seen.add(
        "admin token as X-Api-Key",
        http.get("/api/campaigns", headers={"X-Api-Key": note.token}),
    )
    seen.add(
        "admin: a key as expiry",
        http.post(
            "/_admin/keys",
            headers=admin,
            content=orjson.dumps(
                {"account_id": A1, "name": "x", "expires_in_days": secret}
            ),
        ),
    )
    seen.add(
        "admin: a key as account",
        http.post(
            "/_admin/keys/list",
            headers=admin,
            content=orjson.dumps({"account_id": secret}),
        ),
    )
    seen.add(
        "admin: revoke a key by its secret",
        http.post(f"/_admin/keys/{secret}/revoke", headers=admin, content=b"{}"),
    )
    seen.add(
        "admin: not JSON",
        http.post("/_admin/catalog", headers=admin, content=secret.encode()),
    )


def _commands_while_serving(db: Path, keys: Keys) -> None:
    """`adstats keys ...` hands its work to the server: the secret of a new
    key travels through it, and a secret given instead of a key id is refused."""
    key_ids = [
        line
        for line in run_cli(
            "keys", "list", "--account", A1, "--db", str(db)
        ).stdout.splitlines()
    ]
    to_revoke = next(
        orjson.loads(k)["key_id"]
        for k in key_ids
        if orjson.loads(k)["name"] == "to revoke"
    )
    created, listed, revoked, mistaken = run_cli_parallel(
        [
            [
                "keys",
                "create",
                "--account",
                A1,
                "--name",
                "made while serving",
                "--db",
                str(db),
            ],
            ["keys", "list", "--account", A1, "--db", str(db)],
            ["keys", "revoke", to_revoke, "--db", str(db)],
            ["keys", "revoke", keys.good, "--db", str(db)],
        ]
    )
    assert created.returncode == 0, created.stderr
    assert SECRET_PATTERN.fullmatch(created.stdout.strip()), "the secret alone"
    keys.made_while_serving = created.stdout.strip()
    assert (listed.returncode, revoked.returncode, mistaken.returncode) == (0, 0, 1)
    for result in (listed, revoked, mistaken):
        assert leaks_in(result.stdout + result.stderr, keys.all().values()) == []
    assert leaks_in(created.stderr, keys.all().values()) == []


def _over_the_rate(folder: Path, seen: Seen) -> ServerProcess:
    """A second server, without ingestion and with a rate of 1 (burst 2)."""
    db = folder / "strict.duckdb"
    prepared = prepare_db(db, standard_catalog(), [], [(A1, "strict")])
    secret = prepared.secrets["strict"]
    server = ServerProcess(
        db,
        {
            "ADSTATS_RATE_LIMIT": "1",
            "ADSTATS_RATE_BURST": "2",
            "ADSTATS_LOG_LEVEL": "DEBUG",
        },
    ).start()
    with server.client() as http:
        for _attempt in range(20):  # 3 at once are over a burst of 2
            limited = http.get("/api/campaigns", params={"api_key": secret})
            if seen.add("over the rate", limited).status_code == 429:
                break
        seen.add(
            "over the rate, in a header",
            http.get("/api/campaigns", headers={"X-Api-Key": secret}),
        )
        seen.add(
            "ingestion off",
            http.post(
                "/ingest", content=b"{}", headers={"Authorization": f"Bearer {secret}"}
            ),
        )
    server.stop()
    return server


@dataclass
class Run:
    servers: list[ServerProcess]
    keys: Keys
    seen: Seen

    def secrets(self) -> list[str]:
        return [*self.keys.all().values(), TOKEN, *RUN.secrets]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("no-secrets")
    db = folder / "stats.duckdb"
    keys = _prepared(db)
    seen = Seen()
    server = ServerProcess(
        db,
        {
            "ADSTATS_LOG_LEVEL": "DEBUG",
            "ADSTATS_INGEST_TOKEN": TOKEN,
            "ADSTATS_MAX_BODY_BYTES": str(MAX_BODY),
            "ADSTATS_SLOW_QUERY_MS": "1",
        },
    ).start()
    try:
        _commands_while_serving(db, keys)
        with server.client() as http:
            for name, secret in [*keys.all().items(), ("ingestion token", TOKEN)]:
                _key_in_every_place(http, seen, name, secret)
            for secret in [*keys.all().values(), TOKEN]:
                _key_in_odd_places(http, seen, keys.good, secret)
            _ingestion_door(http, seen, keys.good)
            _admin_door(http, seen, db, keys.good)
    finally:
        server.stop()
    strict = _over_the_rate(folder, seen)
    yield Run([server, strict], keys, seen)


def test_the_traffic_covers_every_status_a_client_can_cause(run: Run) -> None:
    assert {200, 400, 401, 403, 404, 405, 413, 429} <= run.seen.statuses
    assert run.keys.made_while_serving != ""


def test_no_answer_holds_a_secret(run: Run) -> None:
    leaking = {
        what: leaks
        for what, text in run.seen.answers
        if (leaks := leaks_in(text, run.secrets()))
    }

    assert leaking == {}


def test_no_log_line_holds_a_secret(run: Run) -> None:
    logs = [server.log_text() for server in run.servers]

    assert all("DEBUG" in log for log in logs), "the servers logged at DEBUG"
    assert "slow query" in logs[0], "statistics requests were logged"
    assert {
        n: leaks
        for n, log in enumerate(logs)
        if (leaks := leaks_in(log, run.secrets()))
    } == {}


def test_an_internal_error_repeats_no_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault inside adstats (here: the query layer failing) answers 500 with
    the one error shape; neither it nor its log line holds the key."""
    store = DuckDBStore(str(tmp_path / "faulty.duckdb"))
    context = build_context(Settings(), store)
    context.admin.load_catalog(standard_catalog())
    _fields, secret = context.admin.create_key(A1, "faulty", None, None)
    context.keys.refresh()

    def fail(*_args: object) -> None:
        raise RuntimeError("the query layer failed")

    context.answers.campaign_rows = fail  # type: ignore[method-assign,assignment]
    caplog.set_level(logging.DEBUG)

    async def ask() -> httpx.Response:
        # In process: the app itself, no socket (ASGI lifespan not needed).
        transport = httpx.ASGITransport(create_app(context), raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://adstats"
        ) as client:
            return await client.get(
                "/api/campaigns",
                params={"api_key": secret, **DAY},
                headers={"X-Api-Key": secret, "User-Agent": secret},
            )

    try:
        response = asyncio.run(ask())
    finally:
        context.close()

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal", "message": "internal error; nothing was changed"}
    }
    # The server's log lines, not those of the client (httpx logs its URLs).
    logged = "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "internal error on GET /api/campaigns" in logged
    assert "RuntimeError: the query layer failed" in logged
    assert leaks_in(logged + response.text + str(response.headers), [secret]) == []


def test_rejection_reasons_never_repeat_a_key(tmp_path: Path) -> None:
    """An event that carries a key in a field (a producer's mistake) is
    rejected without the key in the report or the log.

    Its server logs outside the session's log folder: this leak is reported
    here, not again by the session-wide check."""
    db = tmp_path / "stats.duckdb"
    secret = prepare_db(db, standard_catalog(), [], [(A1, "key")]).secrets["key"]
    fields = ("campaign_id", "insertion_id", "creative_id", "content_id", "type", "ts")
    lines = [
        event(f"k{n}", "impression", "i1") | {name: secret}
        for n, name in enumerate(fields)
    ]
    server = ServerProcess(
        db,
        {"ADSTATS_INGEST_TOKEN": TOKEN, "ADSTATS_LOG_LEVEL": "DEBUG"},
        log_path=tmp_path / "serve.log",
    ).start()
    try:
        with server.client() as http:
            response = http.post(
                "/ingest",
                content=ndjson(lines),
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
    finally:
        server.stop()

    assert response.status_code == 200
    assert [r["line"] for r in response.json()["rejected"]] == [1, 2, 3, 4, 5, 6]
    assert leaks_in(response.text, [secret]) == []
    assert leaks_in(server.log_text(), [secret]) == []
