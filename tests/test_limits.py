"""Limits (SPEC sections 2, 5b and 6, OPERATIONS.md): the size of a POST
/ingest body, of a gzip body once expanded, of an NDJSON line and of a query
string, and the per-key request rate.

Each ingestion test counts into its own campaign of one shared server.
"""

import gzip
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from e2e import (
    HOST,
    CatalogBuilder,
    Event,
    Placement,
    Row,
    ServerFactory,
    ServerProcess,
    error_of,
    gzipped,
    ident,
    metrics,
    ndjson,
    prepare_db,
)

TOKEN = "t9-limits-ingestion-token-0123456789"
MAX_BODY = 256 * 1024  # ADSTATS_MAX_BODY_BYTES of the shared server
MAX_EXPANDED = 8 * MAX_BODY  # what a gzip body may expand to
MAX_LINE = 64 * 1024
ACCOUNT, ADVERTISER = ident("a9", 1), ident("ad9", 1)
CAMPAIGNS = 16
DAY = "2024-06-03"
ON_DAY = {"date_from": DAY, "date_to": DAY}
GZIP = {"Content-Encoding": "gzip"}


def placement(n: int) -> Placement:
    return Placement(ident("c9", n), ident("e9", n), ident("f9", n))


def build_catalog() -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Limits account", "EUR", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    for n in range(1, CAMPAIGNS + 1):
        where = placement(n)
        cat.campaign(where.campaign_id, ACCOUNT, ADVERTISER, f"Campaign {n}")
        cat.insertion(
            where.insertion_id, where.campaign_id, f"Insertion {n}", "cpm", "10.00"
        )
        cat.creative(where.creative_id, ACCOUNT, f"Creative {n}")
    return cat


def impressions(n: int, count: int, prefix: str = "i") -> list[Event]:
    where = placement(n)
    return [
        where.event(f"{prefix}{n}-{i}", "impression", f"{DAY}T10:00:{i % 60:02d}Z",
                    f"{prefix}{n}-{i}")
        for i in range(count)
    ]  # fmt: skip


def padded(events: bytes, size: int) -> bytes:
    """events, then lines of spaces (blank lines, skipped) up to size bytes."""
    room = size - len(events)
    assert room >= 0
    full, rest = divmod(room, 1000)
    padding = (b" " * 999 + b"\n") * full
    if rest:
        padding += b" " * (rest - 1) + b"\n"
    body = events + padding
    assert len(body) == size
    return body


def counted(count: int) -> Row:
    return metrics(impressions=count, billables=count, spent=count / 100)


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    secret: str

    def post(self, body: bytes | Iterator[bytes], **headers: str) -> httpx.Response:
        headers["Authorization"] = f"Bearer {TOKEN}"
        return self.http.post("/ingest", content=body, headers=headers)

    def campaign(self, n: int) -> Row:
        response = self.http.get(
            f"/api/campaigns/{placement(n).campaign_id}",
            params={"api_key": self.secret, **ON_DAY},
        )
        assert response.status_code == 200, response.text
        (row,) = response.json()
        return {k: row[k] for k in metrics()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("t9-limits") / "limits.duckdb"
    prepared = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "key")])
    env = {"ADSTATS_INGEST_TOKEN": TOKEN, "ADSTATS_MAX_BODY_BYTES": str(MAX_BODY)}
    server = ServerProcess(db, env).start()
    try:
        with server.client() as http:
            yield World(server, http, prepared.secrets["key"])
    finally:
        server.stop()


def report(accepted: int, rejected: list[int] | None = None) -> dict[str, object]:
    return {"accepted": accepted, "duplicates": 0, "rejected": rejected or []}


# -- the body -----------------------------------------------------------------------


def test_a_body_of_exactly_the_limit_is_accepted(world: World) -> None:
    body = padded(ndjson(impressions(1, 5)), MAX_BODY)

    response = world.post(body)

    assert response.json() == report(5)
    assert world.campaign(1) == counted(5)


def test_a_body_one_byte_over_the_limit_is_413_and_applies_nothing(
    world: World,
) -> None:
    body = padded(ndjson(impressions(2, 5)), MAX_BODY + 1)

    response = world.post(body)

    assert response.request.headers["content-length"] == str(MAX_BODY + 1)
    assert error_of(response) == (413, "payload_too_large")
    assert world.campaign(2) == counted(0)


def parts_of(body: bytes, size: int = 10_000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("over", [0, 1])
def test_a_chunked_body_is_held_to_the_same_limit(world: World, over: int) -> None:
    body = padded(ndjson(impressions(3, 5, prefix=f"o{over}-")), MAX_BODY + over)

    response = world.post(parts_of(body))

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    if over:
        assert error_of(response) == (413, "payload_too_large")
        assert world.campaign(3) == counted(5)  # the body at the limit only
    else:
        assert response.json() == report(5)


def test_a_body_declared_far_over_the_limit_is_refused_before_it_is_sent(
    world: World,
) -> None:
    """The declared length alone decides: the answer comes while the client
    has sent the headers only."""
    with socket.create_connection((HOST, world.server.port), timeout=30.0) as sock:
        sock.sendall(
            f"POST /ingest HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {100 * MAX_BODY}\r\n\r\n".encode()
        )
        head, body = read_answer(sock)

    assert head.startswith(b"HTTP/1.1 413 ")
    assert orjson.loads(body)["error"]["code"] == "payload_too_large"


# -- gzip ---------------------------------------------------------------------------


@pytest.mark.parametrize("over", [0, 1])
def test_a_gzip_body_may_expand_to_eight_times_the_limit(
    world: World, over: int
) -> None:
    expanded = padded(
        ndjson(impressions(4, 5, prefix=f"g{over}-")), MAX_EXPANDED + over
    )
    body = gzipped(expanded)
    assert len(body) < MAX_BODY

    response = world.post(body, **GZIP)

    if over:
        assert error_of(response) == (413, "payload_too_large")
        assert world.campaign(4) == counted(5)  # the body at the limit only
    else:
        assert response.json() == report(5)


def test_a_gzip_bomb_is_413_and_the_server_keeps_answering(world: World) -> None:
    bomb = gzip.compress(b"\n" * (256 * 1024 * 1024), compresslevel=9, mtime=0)
    assert len(bomb) < MAX_BODY

    response = world.post(bomb, **GZIP)

    assert error_of(response) == (413, "payload_too_large")
    assert world.http.get("/api").status_code == 200


def test_a_gzip_body_of_several_members_counts_every_member(world: World) -> None:
    """RFC 1952: a gzip stream is a series of members, as `cat a.gz b.gz` or
    a streaming compressor makes; `adstats ingest` reads them all."""
    first, second = impressions(5, 3, prefix="m1-"), impressions(5, 4, prefix="m2-")
    body = gzipped(ndjson(first)) + gzipped(ndjson(second))

    response = world.post(body, **GZIP)

    assert response.json() == report(7)
    assert world.campaign(5) == counted(7)


def test_several_members_are_held_to_the_expansion_limit_together(
    world: World,
) -> None:
    half = padded(b"", MAX_EXPANDED // 2 + 1)
    body = gzipped(ndjson(impressions(6, 2))) + gzipped(half) + gzipped(half)

    response = world.post(body, **GZIP)

    assert error_of(response) == (413, "payload_too_large")
    assert world.campaign(6) == counted(0)


# -- lines --------------------------------------------------------------------------


def line_of(event: Event, size: int) -> bytes:
    """The event as one JSON line of exactly size bytes (without its newline)."""
    base = orjson.dumps({**event, "padding": ""})
    line = base.replace(
        b'"padding":""', b'"padding":"' + b"x" * (size - len(base)) + b'"'
    )
    assert len(line) == size
    return line


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_line_over_64_kib_is_rejected_and_the_others_count(
    world: World, encoding: str
) -> None:
    n = 7 if encoding == "identity" else 8
    first, at_limit, over, last = impressions(n, 4)
    body = b"\n".join(
        [orjson.dumps(first), line_of(at_limit, MAX_LINE), line_of(over, MAX_LINE + 1),
         orjson.dumps(last)]
    ) + b"\n"  # fmt: skip

    sent = gzipped(body) if encoding == "gzip" else body
    response = world.post(sent, **(GZIP if encoding == "gzip" else {}))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (3, 0)
    ((line, reason),) = [(r["line"], r["reason"]) for r in answer["rejected"]]
    assert line == 3
    assert str(MAX_LINE) in reason or "64 KiB" in reason, reason
    assert world.campaign(n) == counted(3)


def test_a_body_of_one_long_line_is_one_rejected_line(world: World) -> None:
    body = line_of(impressions(9, 1)[0], MAX_BODY - 1) + b"\n"

    response = world.post(body)

    assert response.status_code == 200, response.text
    assert [r["line"] for r in response.json()["rejected"]] == [1]
    assert world.campaign(9) == counted(0)


# -- the query string ---------------------------------------------------------------


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and the body of one HTTP answer with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, data
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    length = int(lengths[0]) if lengths else 0
    while len(body) < length:
        part = sock.recv(65536)
        assert part, data
        body += part
    return head, body


def raw_get(port: int, target: str) -> tuple[int, bytes, bytes]:
    """GET target over a socket of its own (httpx refuses URLs over 64 KiB)."""
    with socket.create_connection((HOST, port), timeout=30.0) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        )
        head, body = read_answer(sock)
    return int(head.split(b" ", 2)[1]), head, body


LONG = 100_000


def long_targets(secret: str) -> dict[str, str]:
    campaign = placement(1).campaign_id
    return {
        "a long date": f"/api/campaigns?api_key={secret}&date_from={'1' * LONG}",
        "a long parameter name": f"/api/campaigns?api_key={secret}&{'b' * LONG}=1",
        "a long key": f"/api/campaigns?api_key=ads_{'k' * LONG}",
        "many parameters": f"/api/campaigns?api_key={secret}&"
        + "&".join(f"p{i}=1" for i in range(LONG // 8)),
        "a long id": f"/api/campaigns/{'c' * LONG}?api_key={secret}",
        "a long entity query": f"/api/stats/contents?api_key={secret}&by_day={'t' * LONG}",
        "a long id and range": f"/api/campaigns/{campaign}?api_key={secret}&"
        f"date_from=2024-06-01&date_to=2024-06-0{'1' * LONG}",
    }


@pytest.mark.parametrize(
    "case",
    ["a long date", "a long parameter name", "a long key", "many parameters",
     "a long id", "a long entity query", "a long id and range"],
)  # fmt: skip
def test_a_100_kb_query_string_is_a_4xx_and_the_server_answers_on(
    world: World, case: str
) -> None:
    target = long_targets(world.secret)[case]
    assert len(target) >= LONG

    status, head, body = raw_get(world.server.port, target)

    assert 400 <= status < 500, (head, body[:300])
    assert world.secret not in (head + body).decode(errors="replace")
    assert b"k" * 100 not in body  # no long value is echoed
    assert world.http.get("/api").status_code == 200
    assert world.campaign(CAMPAIGNS) == counted(0)


# -- the rate of a key --------------------------------------------------------------


@pytest.fixture
def limited(
    tmp_path: Path, server_factory: ServerFactory
) -> Iterator[tuple[ServerProcess, str, str]]:
    db = tmp_path / "rate.duckdb"
    prepared = prepare_db(
        db, build_catalog().document(), keys=[(ACCOUNT, "one"), (ACCOUNT, "two")]
    )
    env = {"ADSTATS_RATE_LIMIT": "1", "ADSTATS_RATE_BURST": "2",
           "ADSTATS_INGEST_TOKEN": TOKEN}  # fmt: skip
    server = server_factory(db, env)
    yield server, prepared.secrets["one"], prepared.secrets["two"]


def test_over_the_rate_is_429_with_retry_after_and_the_error_body(
    limited: tuple[ServerProcess, str, str],
) -> None:
    server, one, two = limited
    path = f"/api/campaigns/{placement(1).campaign_id}"
    with server.client() as http:
        burst = [http.get(path, headers={"X-Api-Key": one}) for _ in range(2)]
        refused = [
            http.get(path, headers={"X-Api-Key": one}),
            http.get("/api/stats/campaigns", params={"api_key": one}),
            http.get("/api/campaigns", headers={"Authorization": f"Bearer {one}"}),
        ]
        other_key = [http.get(path, headers={"X-Api-Key": two}) for _ in range(2)]
        meta = [http.get("/api", headers={"X-Api-Key": one}) for _ in range(10)]
        meta += [http.get("/api") for _ in range(10)]
        ingests = [
            http.post("/ingest", content=ndjson(impressions(1, 1, prefix=f"r{i}-")),
                      headers={"Authorization": f"Bearer {TOKEN}"})
            for i in range(10)
        ]  # fmt: skip
        waited = int(refused[-1].headers["retry-after"])
        time.sleep(waited)
        again = http.get(path, headers={"X-Api-Key": one})

    assert [r.status_code for r in burst] == [200, 200]
    for response in refused:
        assert error_of(response) == (429, "too_many_requests")
        assert response.headers["retry-after"] == "1"
        assert one not in response.text
    assert [r.status_code for r in other_key] == [200, 200]
    assert [r.status_code for r in meta] == [200] * 20
    assert [r.json() for r in ingests] == [report(1)] * 10
    assert again.status_code == 200
    assert again.json()[0]["impressions"] == 0  # ingested on 2024-06-03, not yesterday
