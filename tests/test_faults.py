"""Faults (SPEC sections 5b and 9): ingestion under concurrent load, and a
disk that fills up under an ingestion, through the CLI and over HTTP.

How a full disk is made here: the tests run as root, and root writes through
`chmod a-w`, so a read-only file or folder cannot stop a write, and a
read-only bind mount is not available to a test. Instead the ingesting
process (`adstats ingest` or `adstats serve`) starts under a file-size limit
(RLIMIT_FSIZE, `ulimit -f`) with SIGXFSZ ignored: every write that would make
the database or its write-ahead log larger than the limit fails with EFBIG
("File too large"), at the same place where a full disk fails with ENOSPC.
The limit is below the database's own size, so nothing can grow it, and
above what starting needs, so the process starts and fails on the batch.
"""

import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adstats.query.answers import ENTITY_KINDS, StatsAnswers
from adstats.query.params import StatsQuery
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    ADSTATS,
    FLAG_SETS,
    GENEROUS_RATES,
    HOST,
    RUN,
    START_TIMEOUT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    CatalogBuilder,
    Event,
    Placement,
    Row,
    ServerFactory,
    clean_env,
    error_of,
    exact,
    free_port,
    gzipped,
    ident,
    metrics,
    ndjson,
    prepare_db,
    run_cli,
)

GZIP = {"Content-Encoding": "gzip"}
TOKEN = "t7-faults-ingestion-token-0123456789"
ACCOUNT, ADVERTISER = ident("a7", 1), ident("ad7", 1)
CONTENTS = (ident("d7", 1), ident("d7", 2))
CAMPAIGNS = 4
DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
RANGE = {"date_from": "2024-02-29", "date_to": "2024-03-04"}
RANGE_DAYS = 5

# The file-size limit of a process on a "full disk": below the size of any
# database these tests make (several MiB: DuckDB allocates 256 KiB blocks),
# above the server's log and the few hundred bytes that starting writes.
FULL_DISK_BYTES = 256 * 1024
LIMITED = (
    "import os, resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def on_full_disk(*args: str) -> list[str]:
    """The command line of `adstats ARGS` under the file-size limit."""
    return [sys.executable, "-c", LIMITED, str(FULL_DISK_BYTES), ADSTATS, *args]


# -- the catalog and its events -----------------------------------------------------


def placement(n: int, content: int = 0) -> Placement:
    return Placement(
        ident("c7", n), ident("e7", n), ident("f7", n), CONTENTS[content % 2]
    )


def campaign_id(n: int) -> str:
    return placement(n).campaign_id


def build_catalog() -> dict[str, list[Row]]:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Faults account", "EUR", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    for number, content in enumerate(CONTENTS, start=1):
        cat.content(content, f"Page {number}")
    for n in range(1, CAMPAIGNS + 1):
        where = placement(n)
        cat.campaign(where.campaign_id, ACCOUNT, ADVERTISER, f"Campaign {n}")
        # 0.01 per impression and no budget: what counts is the same in any order
        cat.insertion(
            where.insertion_id, where.campaign_id, f"Insertion {n}", "cpm", "10.00"
        )
        cat.creative(where.creative_id, ACCOUNT, f"Creative {n}")
    return cat.document()


def views(n: int, prefix: str, count: int) -> list[Event]:
    """count ad views of campaign n, each an impression and a visible
    impression; every fifth view also has a click. Views go round the days
    and the contents."""
    events: list[Event] = []
    for i in range(count):
        where = placement(n, content=i // 2)
        ts = f"{DAYS[i % len(DAYS)]}T{i % 24:02d}:{i % 60:02d}:00Z"
        view = f"{prefix}-{i}"
        events.append(where.event(f"{view}-imp", "impression", ts, view))
        events.append(where.event(f"{view}-vis", "visible_impression", ts, view))
        if i % 5 == 0:
            events.append(where.event(f"{view}-clk", "click", ts, view))
    return events


def events_of_views(count: int) -> int:
    """How many events views() makes for count views."""
    return 2 * count + (count + 4) // 5


def viewed(count: int) -> Row:
    """The campaign metrics of count views of views(), count a multiple of 5."""
    assert count % 5 == 0
    return metrics(
        impressions=count,
        visible_impressions=count,
        clicks=count // 5,
        click_through_rate=0.2 if count else 0.0,
        billables=count,
        spent=count / 100,
    )


# -- answers ------------------------------------------------------------------------


def http_answers(http: httpx.Client, secret: str) -> dict[str, Any]:
    """Every campaign answer over RANGE, without and with each breakdown, and
    the entity family's answers by day."""
    found: dict[str, Any] = {}
    for flags in [(), *FLAG_SETS]:
        params = {**RANGE, **dict.fromkeys(flags, "true"), "api_key": secret}
        response = http.get("/api/campaigns", params=params)
        assert response.status_code == 200, response.text
        found[f"campaigns {flags}"] = response.json()
    for kind in ENTITY_KINDS:
        params = {**RANGE, "by_day": "true", "api_key": secret}
        response = http.get(f"/api/stats/{kind}", params=params)
        assert response.status_code == 200, response.text
        found[f"stats {kind}"] = response.json()
    return found


def local_answers(db: Path) -> dict[str, Any]:
    """The campaign answers over RANGE without and with each breakdown, read
    in-process from a database no process holds."""
    first, last = (date.fromisoformat(RANGE[k]) for k in ("date_from", "date_to"))
    store = DuckDBStore(str(db))
    try:
        account = store.catalog_state().catalog.accounts[ACCOUNT]
        answers = StatsAnswers(store)
        found: dict[str, Any] = {}
        for flags in [(), *FLAG_SETS]:
            query = StatsQuery(
                first,
                last,
                by_day="by_day" in flags,
                by_insertion="by_insertion" in flags,
                by_content="by_content" in flags,
                by_creative="by_creative" in flags,
            )
            found[f"campaigns {flags}"] = answers.campaigns(account, None, query)
        return found
    finally:
        store.close()


def totals(rows: list[Row]) -> dict[str, Row]:
    """Campaign id -> its metrics, from an answer without breakdowns."""
    return {row["campaign_id"]: {k: row[k] for k in metrics()} for row in rows}


def totals_of_views(counts: dict[int, int]) -> dict[str, Row]:
    return {campaign_id(n): viewed(c) for n, c in sorted(counts.items()) if c}


# -- concurrent ingestion and queries -----------------------------------------------

INGESTERS, QUERIERS = 3, 2
BATCHES_PER_INGESTER = 30
FRESH_VIEWS, SHARED_VIEWS, REPLAYED_LINES = 50, 10, 20
MAX_QUERIES_PER_THREAD = 5000
DEADLINE_SECONDS = 120.0


@dataclass(frozen=True)
class Batch:
    body: bytes
    views: dict[str, set[str]]  # campaign id -> the views (impression ids) it has
    valid_lines: int
    bad_line: int


def plan_batches(ingester: int) -> list[Batch]:
    """The batches one ingester posts. Batch b has fresh views of one campaign,
    the views every ingester sends as batch b (the same ids, posted at about
    the same time by each), a replay of lines of the ingester's batch b - 1,
    and a broken line."""
    batches: list[Batch] = []
    previous: list[Event] = []
    for b in range(BATCHES_PER_INGESTER):
        fresh_n, shared_n = (ingester + b) % CAMPAIGNS + 1, b % CAMPAIGNS + 1
        shared = views(shared_n, f"s{b}", SHARED_VIEWS)
        fresh = views(fresh_n, f"i{ingester}b{b}", FRESH_VIEWS)
        replay = previous[:REPLAYED_LINES]
        lines: list[Event | str] = [*shared, *fresh, *replay, f'{{"id": "bad-{b}",']
        seen: dict[str, set[str]] = {}
        for event in (*shared, *fresh):
            seen.setdefault(event["campaign_id"], set()).add(event["impression_id"])
        batches.append(Batch(ndjson(lines), seen, len(lines) - 1, len(lines)))
        previous = fresh
    return batches


@dataclass
class Progress:
    """Views posted and views acknowledged so far, per campaign."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: dict[str, set[str]] = field(default_factory=dict)
    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reports: list[tuple[Batch, int, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, into: dict[str, set[str]], batch: Batch) -> None:
        with self.lock:
            for campaign, seen in batch.views.items():
                into.setdefault(campaign, set()).update(seen)

    def counts(self, of: dict[str, set[str]]) -> dict[str, int]:
        with self.lock:
            return {campaign: len(seen) for campaign, seen in of.items()}


def ingest_all(base_url: str, batches: list[Batch], progress: Progress) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, timeout=60.0) as http:
        for batch in batches:
            progress.add(progress.posted, batch)
            response = http.post("/ingest", content=batch.body, headers=headers)
            report = response.json()
            with progress.lock:
                progress.reports.append((batch, response.status_code, report))
            if response.status_code != 200:
                return
            progress.add(progress.acknowledged, batch)


def query_while(
    base_url: str, secret: str, ingesting: threading.Event, progress: Progress
) -> None:
    """Asks for every campaign, by day every other time, while the ingestion
    runs, and checks each answer: between what was acknowledged before the
    request and what was posted after it, and no batch half-applied."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=base_url, timeout=60.0) as http:
        for number in range(MAX_QUERIES_PER_THREAD):
            if not ingesting.is_set() or time.monotonic() > deadline:
                return
            by_day = number % 2 == 1
            params = {**RANGE, "api_key": secret, "by_day": str(by_day).lower()}
            at_least = progress.counts(progress.acknowledged)
            started = time.perf_counter()
            response = http.get("/api/campaigns", params=params)
            elapsed = time.perf_counter() - started
            at_most = progress.counts(progress.posted)
            problem = check_answer(response, by_day, at_least, at_most)
            with progress.lock:
                progress.latencies.append(elapsed)
                if problem:
                    progress.problems.append(problem)


def check_answer(
    response: httpx.Response,
    by_day: bool,
    at_least: dict[str, int],
    at_most: dict[str, int],
) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text}"
    rows: list[Row] = response.json()
    summed: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        sums = summed.setdefault(row["campaign_id"], {})
        for name in ("impressions", "visible_impressions", "clicks", "billables"):
            sums[name] = sums.get(name, Decimal(0)) + row[name]
        sums["spent"] = sums.get("spent", Decimal(0)) + exact(row["spent"])
        sums["rows"] = sums.get("rows", Decimal(0)) + 1
    for campaign in set(at_least) | set(summed):
        got = summed.get(campaign, {})
        shown = int(got.get("impressions", 0))
        if not at_least.get(campaign, 0) <= shown <= at_most.get(campaign, 0):
            return f"{campaign}: {shown} impressions, not within {at_least} {at_most}"
        if campaign not in summed:
            continue
        expected = {
            "impressions": shown,
            "visible_impressions": shown,
            "clicks": shown // 5,
            "billables": shown,
            "spent": Decimal(shown) / 100,
            "rows": RANGE_DAYS if by_day else 1,
        }
        if shown % SHARED_VIEWS or got != expected:
            return f"{campaign}: {dict(got)} is not {expected}"
    return None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_concurrent_ingestion_and_queries_answer_exactly(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    catalog = build_catalog()
    db, reference_db = tmp_path / "served.duckdb", tmp_path / "reference.duckdb"
    secret = prepare_db(db, catalog, keys=[(ACCOUNT, "key")]).secrets["key"]
    plans = [plan_batches(ingester) for ingester in range(INGESTERS)]
    server = server_factory(db, {"ADSTATS_INGEST_TOKEN": TOKEN})
    progress, ingesting = Progress(), threading.Event()
    ingesting.set()
    queriers = [
        threading.Thread(
            target=query_while, args=(server.base_url, secret, ingesting, progress)
        )
        for _ in range(QUERIERS)
    ]
    ingesters = [
        threading.Thread(target=ingest_all, args=(server.base_url, plan, progress))
        for plan in plans
    ]
    for thread in (*queriers, *ingesters):
        thread.start()
    for thread in ingesters:
        thread.join(timeout=DEADLINE_SECONDS)
    ingesting.clear()
    for thread in queriers:
        thread.join(timeout=DEADLINE_SECONDS)
    assert not any(t.is_alive() for t in (*queriers, *ingesters))

    latencies = progress.latencies
    print(
        f"\n{len(latencies)} queries during the ingestion of "
        f"{INGESTERS * BATCHES_PER_INGESTER} batches: "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    assert progress.problems == []
    assert len(latencies) >= QUERIERS
    assert len(progress.reports) == INGESTERS * BATCHES_PER_INGESTER
    for batch, status, report in progress.reports:
        assert status == 200, report
        assert report["accepted"] + report["duplicates"] == batch.valid_lines
        assert [r["line"] for r in report["rejected"]] == [batch.bad_line]
    distinct = INGESTERS * BATCHES_PER_INGESTER * events_of_views(FRESH_VIEWS)
    distinct += BATCHES_PER_INGESTER * events_of_views(SHARED_VIEWS)
    assert sum(report["accepted"] for _, _, report in progress.reports) == distinct

    # the same events ingested once, by the CLI, into a fresh database
    reference_secret = prepare_db(reference_db, catalog, keys=[(ACCOUNT, "ref")])
    events = tmp_path / "all.ndjson"
    events.write_bytes(b"".join(batch.body for plan in plans for batch in plan))
    once = run_cli("ingest", str(events), "--json", "--db", str(reference_db))
    assert once.returncode == 0, once.stderr
    report = orjson.loads(once.stdout)
    assert (report["accepted"], len(report["rejected"])) == (
        distinct,
        INGESTERS * BATCHES_PER_INGESTER,
    )
    reference = server_factory(reference_db)
    with server.client() as http, reference.client() as reference_http:
        found = http_answers(http, secret)
        assert found == http_answers(reference_http, reference_secret.secrets["ref"])

    counts = {n: 0 for n in range(1, CAMPAIGNS + 1)}
    for ingester in range(INGESTERS):
        for b in range(BATCHES_PER_INGESTER):
            counts[(ingester + b) % CAMPAIGNS + 1] += FRESH_VIEWS
    for b in range(BATCHES_PER_INGESTER):
        counts[b % CAMPAIGNS + 1] += SHARED_VIEWS
    assert totals(found["campaigns ()"]) == totals_of_views(counts)


# -- a full disk under a CLI ingestion ----------------------------------------------

FIRST_VIEWS, BIG_VIEWS = 100, 12_000


@dataclass(frozen=True)
class FullDiskRun:
    db: Path
    big: Path
    before: dict[str, Any]
    failed: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def cli_full_disk(tmp_path_factory: pytest.TempPathFactory) -> FullDiskRun:
    """A database with one acknowledged file, then a big file ingested by
    `adstats ingest` on a full disk."""
    folder = tmp_path_factory.mktemp("t7-full-disk-cli")
    db, first, big = (
        folder / "db.duckdb",
        folder / "first.ndjson",
        folder / "big.ndjson",
    )
    prepare_db(db, build_catalog())
    first.write_bytes(ndjson(views(1, "first", FIRST_VIEWS)))
    big.write_bytes(ndjson(views(2, "big", BIG_VIEWS)))
    acknowledged = run_cli("ingest", str(first), "--db", str(db))
    assert acknowledged.returncode == 0, acknowledged.stderr
    before = local_answers(db)
    assert totals(before["campaigns ()"]) == totals_of_views({1: FIRST_VIEWS})
    failed = subprocess.run(
        on_full_disk("ingest", str(big), "--db", str(db)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )
    return FullDiskRun(db, big, before, failed)


def test_cli_ingestion_on_a_full_disk_fails_with_a_one_line_reason(
    cli_full_disk: FullDiskRun,
) -> None:
    failed = cli_full_disk.failed

    assert failed.returncode == 1
    assert failed.stdout == ""
    assert len(failed.stderr.splitlines()) == 1, failed.stderr
    assert failed.stderr.startswith("adstats: error: ")
    assert "Traceback" not in failed.stderr


def test_cli_ingestion_on_a_full_disk_loses_nothing_and_reruns_exactly(
    cli_full_disk: FullDiskRun, tmp_path: Path
) -> None:
    run = cli_full_disk
    assert run.failed.returncode != 0
    assert local_answers(run.db) == run.before

    rerun = run_cli("ingest", str(run.big), "--json", "--db", str(run.db))

    assert rerun.returncode == 0, rerun.stderr
    assert orjson.loads(rerun.stdout) == {
        "file": str(run.big),
        "accepted": events_of_views(BIG_VIEWS),
        "duplicates": 0,
        "rejected": [],
    }
    reference = tmp_path / "reference.duckdb"
    prepare_db(
        reference,
        build_catalog(),
        [ndjson(views(1, "first", FIRST_VIEWS)), run.big.read_bytes()],
    )
    found = local_answers(run.db)
    assert found == local_answers(reference)
    assert totals(found["campaigns ()"]) == totals_of_views(
        {1: FIRST_VIEWS, 2: BIG_VIEWS}
    )


# -- a full disk under a server ----------------------------------------------------


@contextmanager
def serving_on_full_disk(db: Path) -> Iterator[str]:
    """`adstats serve` on db under the file-size limit; yields its base URL.
    It logs where the run's servers log, for the check that no log holds a
    secret."""
    log = RUN.log_path_for(db) or Path(f"{db}.serve.log")
    RUN.remember(TOKEN)
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    args = ("serve", "--db", str(db), "--host", HOST, "--port", str(port))
    env = clean_env({**GENEROUS_RATES, "ADSTATS_INGEST_TOKEN": TOKEN})
    with log.open("ab") as sink:
        process = subprocess.Popen(on_full_disk(*args), stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=sink, env=env, cwd=db.parent)  # fmt: skip
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "the server did not start in time"
                try:
                    if httpx.get(f"{base_url}/api", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def post(http: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    headers["Authorization"] = f"Bearer {TOKEN}"
    return http.post("/ingest", content=body, headers=headers)


def one_connection_per_request(base_url: str) -> httpx.Client:
    """A client that never reuses a connection: keep-alive after an error
    answer has a test of its own below."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, timeout=60.0, limits=limits)


def test_http_ingestion_on_a_full_disk_is_5xx_and_a_retry_converges(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    db, reference = tmp_path / "served.duckdb", tmp_path / "reference.duckdb"
    catalog = build_catalog()
    secret = prepare_db(db, catalog, keys=[(ACCOUNT, "key")]).secrets["key"]
    small = ndjson(views(1, "small", FIRST_VIEWS))
    big = ndjson(views(2, "big", BIG_VIEWS))
    via_cli = tmp_path / "via-cli.ndjson"
    via_cli.write_bytes(ndjson(views(3, "cli", BIG_VIEWS)))

    with (
        serving_on_full_disk(db) as base_url,
        one_connection_per_request(base_url) as http,
    ):
        acknowledged = post(http, small)
        assert acknowledged.json() == {
            "accepted": events_of_views(FIRST_VIEWS),
            "duplicates": 0,
            "rejected": [],
        }
        before = http_answers(http, secret)

        failures = [post(http, big), post(http, gzipped(big), **GZIP), post(http, big)]
        # a command on the same database hands its work to this server
        handed = run_cli("ingest", str(via_cli), "--db", str(db))

        # 503: the database cannot be written; nothing of the batch was applied
        assert [error_of(f) for f in failures] == [(503, "storage_unavailable")] * 3
        assert handed.returncode == 1
        assert (handed.stdout, len(handed.error_lines)) == ("", 1), handed.stderr
        assert http_answers(http, secret) == before

    server = server_factory(db, {"ADSTATS_INGEST_TOKEN": TOKEN})
    with server.client() as http:
        assert http_answers(http, secret) == before
        retried = [post(http, big), post(http, small)]
        rerun = run_cli("ingest", str(via_cli), "--json", "--db", str(db))

        assert [r.json() for r in retried] == [
            {"accepted": events_of_views(BIG_VIEWS), "duplicates": 0, "rejected": []},
            {"accepted": 0, "duplicates": events_of_views(FIRST_VIEWS), "rejected": []},
        ]
        assert rerun.returncode == 0, rerun.stderr
        assert orjson.loads(rerun.stdout)["accepted"] == events_of_views(BIG_VIEWS)
        found = http_answers(http, secret)
    server.stop()

    prepare_db(reference, catalog, [small, big, via_cli.read_bytes()])
    assert local_answers(db) == local_answers(reference)
    assert totals(found["campaigns ()"]) == totals_of_views(
        {1: FIRST_VIEWS, 2: BIG_VIEWS, 3: BIG_VIEWS}
    )


def test_a_5xx_answer_keeps_its_connection_or_says_it_closes(tmp_path: Path) -> None:
    """HTTP/1.1 keeps a connection open unless an answer says
    `Connection: close`; a client sends its next request on it at once. A
    server that closes it silently after an answer makes that next request
    fail without an answer, which for POST /ingest leaves the client unsure."""
    db = tmp_path / "served.duckdb"
    prepare_db(db, build_catalog())
    body = ndjson(views(2, "big", BIG_VIEWS))
    request = (
        f"POST /ingest HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    with serving_on_full_disk(db) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection((HOST, port), timeout=30.0) as connection:
            connection.sendall(request)
            head, answer = read_answer(connection)
            connection.settimeout(2.0)
            try:
                after: bytes | None = connection.recv(1)
            except TimeoutError:
                after = None  # still open, as it should be
            except ConnectionResetError:
                after = b""

    assert head.splitlines()[0] == b"HTTP/1.1 503 Service Unavailable"
    assert orjson.loads(answer)["error"]["code"] == "storage_unavailable"
    says_close = b"\r\nconnection: close" in head.lower()
    assert says_close or after is None, "the server closed the connection silently"


def read_answer(connection: socket.socket) -> tuple[bytes, bytes]:
    """The head and the body of one HTTP answer with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = connection.recv(65536)
        assert part, data
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    declared = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    assert declared is not None, head
    length = int(declared[1])
    while len(body) < length:
        part = connection.recv(65536)
        assert part, data
        body += part
    return head, body
