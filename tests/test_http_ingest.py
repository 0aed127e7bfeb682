"""POST /ingest against a real `adstats serve` (SPEC section 5b).

Each test counts into its own campaign, so the tests share one server and
stay independent of each other.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from e2e import (
    CatalogBuilder,
    Placement,
    Row,
    ServerFactory,
    ServerProcess,
    error_of,
    free_port,
    gzipped,
    ident,
    metrics,
    ndjson,
    prepare_db,
    run_cli,
)

TOKEN = "t2-ingestion-token-0123456789"
MAX_BODY = 8192
ACCOUNT, ADVERTISER, CONTENT = ident("a2", 1), ident("ad2", 1), ident("d2", 1)
CAMPAIGNS = 13
DAY = {"date_from": "2024-02-01", "date_to": "2024-02-01"}


def placement(n: int) -> Placement:
    """The placement of campaign n: one campaign per test."""
    return Placement(ident("c2", n), ident("e2", n), ident("f2", n), CONTENT)


def build_catalog() -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Ingest account", "EUR", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    cat.content(CONTENT, "Page")
    for n in range(1, CAMPAIGNS + 1):
        where = placement(n)
        cat.campaign(where.campaign_id, ACCOUNT, ADVERTISER, f"Campaign {n}")
        # 0.01 per impression
        cat.insertion(
            where.insertion_id, where.campaign_id, f"Insertion {n}", "cpm", "10.00"
        )
        cat.creative(where.creative_id, ACCOUNT, f"Creative {n}")
    return cat


def views(n: int, count: int, prefix: str = "v") -> list[dict[str, object]]:
    """count impressions with a visible impression each, on 2024-02-01."""
    where = placement(n)
    events = []
    for i in range(count):
        ts = f"2024-02-01T10:{i // 60:02d}:{i % 60:02d}Z"
        events.append(
            where.event(f"{prefix}{n}-{i}-imp", "impression", ts, f"{prefix}{n}-{i}")
        )
        events.append(
            where.event(
                f"{prefix}{n}-{i}-vis", "visible_impression", ts, f"{prefix}{n}-{i}"
            )
        )
    return events


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    secret: str

    def post(
        self, body: bytes, token: str | None = TOKEN, **headers: str
    ) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post("/ingest", content=body, headers=headers)

    def campaign(self, n: int) -> Row:
        response = self.http.get(
            f"/api/campaigns/{placement(n).campaign_id}",
            params={"api_key": self.secret, **DAY},
        )
        assert response.status_code == 200, response.text
        rows: list[Row] = response.json()
        assert len(rows) == 1
        return {k: rows[0][k] for k in metrics()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("t2-ingest") / "stats.duckdb"
    prepared = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "key")])
    env = {"ADSTATS_INGEST_TOKEN": TOKEN, "ADSTATS_MAX_BODY_BYTES": str(MAX_BODY)}
    server = ServerProcess(db, env).start()
    try:
        with server.client() as http:
            yield World(server, http, prepared.secrets["key"])
    finally:
        server.stop()


def viewed(count: int) -> Row:
    return metrics(
        impressions=count,
        visible_impressions=count,
        billables=count,
        spent=float(count) / 100,
    )


def test_ingest_answers_the_report_of_the_body(world: World) -> None:
    where = placement(1)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = ndjson(
        [
            where.event("r1", "impression", "2024-02-01T10:00:00Z", "r"),
            '{"id": "r2", "type": ',
            "",
            where.event("r3", "hover", "2024-02-01T10:00:01Z", "r"),
            where.event("r4", "click", "2024-02-01T10:00:02", "r"),
            where.event("r5", "click", "2024-02-01T10:00:03+01:00", "r"),
            where.event("r1", "impression", "2024-02-01T10:00:00Z", "r"),
            where.event("r6", "click", future, "r"),
            {
                **where.event("r7", "click", "2024-02-01T10:00:04Z", "r"),
                "campaign_id": ident("c2", 999),
            },
            where.event("r8", "visible_impression", 1706781604000, "r"),
        ]
    )
    body += b'{"id": "r9", "type": "click", "note": "\xff\xfe"}\n'  # not UTF-8
    body += ndjson([where.event("r10", "click", "2024-02-01T10:00:05Z", "r")])

    response = world.post(body)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert list(report) == ["accepted", "duplicates", "rejected"]
    assert (report["accepted"], report["duplicates"]) == (4, 1)
    assert [r["line"] for r in report["rejected"]] == [2, 4, 5, 8, 9, 11]
    assert all(list(r) == ["line", "reason"] for r in report["rejected"])
    reasons = [r["reason"] for r in report["rejected"]]
    assert "JSON" in reasons[0]
    assert "hover" in reasons[1]
    assert "offset" in reasons[2]
    assert "future" in reasons[3]
    assert "campaign_id" in reasons[4]
    assert "UTF-8" in reasons[5]
    assert world.campaign(1) == metrics(
        impressions=1,
        visible_impressions=1,
        clicks=2,
        click_through_rate=2.0,
        billables=1,
        spent=0.01,
    )


def test_acknowledged_events_show_in_the_very_next_answer(world: World) -> None:
    for batch in range(1, 6):
        response = world.post(ndjson(views(2, 2, prefix=f"b{batch}-")))
        assert response.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
        assert world.campaign(2) == viewed(2 * batch)


def test_retrying_the_same_body_counts_nothing_twice(world: World) -> None:
    body = ndjson([*views(3, 5), '{"broken"'])
    first = world.post(body)
    counted = world.campaign(3)

    again = [world.post(body) for _ in range(3)]

    assert first.json() == {
        "accepted": 10,
        "duplicates": 0,
        "rejected": [{"line": 11, "reason": first.json()["rejected"][0]["reason"]}],
    }
    for answer in again:
        assert answer.status_code == 200
        assert answer.json() == {
            "accepted": 0,
            "duplicates": 10,
            "rejected": first.json()["rejected"],
        }
    assert counted == viewed(5)
    assert world.campaign(3) == counted


def test_the_same_body_posted_at_once_counts_once(world: World) -> None:
    body = ndjson(views(11, 12))
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: world.post(body), range(4)))

    reports = [a.json() for a in answers]
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(r["accepted"] for r in reports) == [0, 0, 0, 24]
    assert sorted(r["duplicates"] for r in reports) == [0, 24, 24, 24]
    assert world.campaign(11) == viewed(12)


def test_different_bodies_posted_at_once_all_count(world: World) -> None:
    bodies = [ndjson(views(12, 5, prefix=f"p{n}-")) for n in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(world.post, bodies))

    assert [a.json() for a in answers] == [
        {"accepted": 10, "duplicates": 0, "rejected": []}
    ] * 6
    assert world.campaign(12) == viewed(30)


def test_gzip_body_is_accepted(world: World) -> None:
    body = ndjson(views(4, 40))
    assert len(body) > MAX_BODY  # over the limit as text, far under it gzipped

    response = world.post(gzipped(body), **{"Content-Encoding": "gzip"})

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 80, "duplicates": 0, "rejected": []}
    assert world.campaign(4) == viewed(40)
    again = world.post(gzipped(body), **{"Content-Encoding": "GZIP"})
    assert again.json() == {"accepted": 0, "duplicates": 80, "rejected": []}


def test_body_that_is_not_gzip_as_announced_is_refused(world: World) -> None:
    body = ndjson(views(5, 2))

    response = world.post(body, **{"Content-Encoding": "gzip"})

    assert error_of(response)[0] == 400
    assert world.campaign(5) == viewed(0)


@pytest.mark.parametrize(
    "token", [None, "t2-ingestion-token-012345678X", TOKEN[:-1], TOKEN + "0"]
)
def test_wrong_or_missing_token_is_401_and_applies_nothing(
    world: World, token: str | None
) -> None:
    response = world.post(ndjson(views(6, 1)), token=token)

    assert error_of(response) == (401, "unauthorized")
    assert TOKEN not in response.text
    assert world.campaign(6) == viewed(0)


def test_an_api_key_or_another_scheme_is_not_the_ingestion_token(
    world: World,
) -> None:
    body = ndjson(views(13, 1))

    answers = [
        world.post(body, token=None, Authorization=f"Token {TOKEN}"),
        world.post(body, token=None, Authorization=TOKEN),
        world.post(body, token=world.secret),
        world.post(body, token=None, **{"X-Api-Key": world.secret}),
        world.http.post("/ingest", content=body, params={"api_key": world.secret}),
    ]

    assert [error_of(a)[0] for a in answers] == [401] * 5
    assert world.campaign(13) == viewed(0)


def test_body_over_the_limit_is_413_and_applies_nothing(world: World) -> None:
    body = ndjson(views(7, 20))
    assert len(body) > MAX_BODY

    response = world.post(body)

    assert error_of(response) == (413, "payload_too_large")
    assert world.campaign(7) == viewed(0)


def test_streamed_body_over_the_limit_is_413(world: World) -> None:
    body = ndjson(views(8, 20))

    def parts() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = world.http.post(
        "/ingest", content=parts(), headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert "content-length" not in response.request.headers
    assert error_of(response) == (413, "payload_too_large")
    assert world.campaign(8) == viewed(0)


def test_body_of_exactly_the_limit_is_accepted(world: World) -> None:
    events = ndjson(views(9, 6))
    body = events + b" " * (MAX_BODY - len(events) - 1) + b"\n"
    assert len(body) == MAX_BODY

    response = world.post(body)

    assert response.json() == {"accepted": 12, "duplicates": 0, "rejected": []}
    assert world.campaign(9) == viewed(6)


def test_empty_body_is_an_empty_report(world: World) -> None:
    assert world.post(b"").json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_without_a_token_ingestion_over_http_is_off(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    db = tmp_path / "off.duckdb"
    prepared = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "key")])
    server = server_factory(db)
    off = World(server, server.client(), prepared.secrets["key"])

    with off.http:
        answers = [
            off.post(ndjson(views(10, 1))),
            off.post(ndjson(views(10, 1)), token=None),
        ]

        assert [error_of(a)[0] for a in answers] == [403, 403]
        assert off.campaign(10) == viewed(0)


def test_a_short_ingestion_token_stops_the_start(tmp_path: Path) -> None:
    short = "short-secret"
    started = run_cli(
        "serve",
        "--db",
        str(tmp_path / "short.duckdb"),
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        env={"ADSTATS_INGEST_TOKEN": short},
        timeout=60,
    )

    assert started.returncode != 0
    assert started.stdout == ""
    assert len(started.error_lines) == 1
    assert "ADSTATS_INGEST_TOKEN" in started.stderr
    assert short not in started.stderr
