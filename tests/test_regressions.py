"""Findings fixed earlier, each pinned by a test that fails if it comes back.

Each test names the finding it guards; the fixes are in the commit "Fixes
from a fresh-user review" unless it says otherwise.
"""

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adstats.query.answers import StatsAnswers
from adstats.query.params import StatsQuery
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    SECRET_PATTERN,
    STOP_TIMEOUT_SECONDS,
    CatalogBuilder,
    CliResult,
    Event,
    Placement,
    Row,
    ServerFactory,
    ServerProcess,
    clean_env,
    error_of,
    gzipped,
    ident,
    ndjson,
    prepare_db,
    run_cli,
    run_cli_parallel,
)

ACCOUNT, OTHER_ACCOUNT = ident("a8", 1), ident("a8", 2)
ADVERTISER = ident("ad8", 1)
CONTENTS = (ident("d8", 1), ident("d8", 2), ident("d8", 3))
EVERY_DAY = (date(2020, 1, 1), date(2029, 12, 31))
DAYS = ("2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04")


def placement(n: int, content: int = 0) -> Placement:
    return Placement(ident("c8", n), ident("e8", n), ident("f8", n), CONTENTS[content])


def build_catalog(campaigns: int = 3) -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Regressions account", "EUR", "UTC")
    cat.account(OTHER_ACCOUNT, "Other account", "USD", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    for number, content in enumerate(CONTENTS, start=1):
        cat.content(content, f"Page {number}")
    for n in range(1, campaigns + 1):
        where = placement(n)
        cat.campaign(where.campaign_id, ACCOUNT, ADVERTISER, f"Campaign {n}")
        cat.insertion(
            where.insertion_id, where.campaign_id, f"Insertion {n}", "cpm", "10.00"
        )
        cat.creative(where.creative_id, ACCOUNT, f"Creative {n}")
    return cat


def impressions(prefix: str, count: int, n: int = 1) -> list[Event]:
    return [
        placement(n).event(
            f"{prefix}-{i}",
            "impression",
            f"{DAYS[0]}T12:00:{i % 60:02d}Z",
            f"{prefix}-{i}",
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class Stored:
    """What a database holds, read in-process: enough to tell any change."""

    campaigns: dict[str, str]  # id -> name
    key_ids: list[str]
    demo_label: str | None
    impressions: int


def stored(db: Path) -> Stored:
    store = DuckDBStore(str(db))
    try:
        catalog = store.catalog_state().catalog
        answers = StatsAnswers(store)
        shown = [
            row["impressions"]
            for account in catalog.accounts.values()
            for row in answers.campaigns(account, None, StatsQuery(*EVERY_DAY))
        ]
        return Stored(
            {c.id: c.name for c in catalog.campaigns.values()},
            [k.key_id for k in store.api_keys()],
            store.label("demo"),
            sum(shown),
        )
    finally:
        store.close()


def assert_one_line_failure(result: CliResult, *mentions: str) -> None:
    """Non-zero exit, nothing on standard output, one line on standard error."""
    assert result.returncode != 0, result
    assert result.stdout == "", result
    assert len(result.error_lines) == 1, result.stderr
    assert result.stderr.startswith("adstats: error: "), result.stderr
    for text in mentions:
        assert text in result.stderr, (text, result.stderr)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "regressions.duckdb"
    prepare_db(path, build_catalog().document())
    return path


# -- `adstats ingest` without pandas (pyarrow.compute used without an import) ------

# Runs `adstats ARGS` as if pandas were not installed. The usual trick,
# sys.modules["pandas"] = None, does not do that here: pyarrow imports pandas
# from Cython code, whose import hands back the None instead of failing, and
# then breaks on it. An import hook that finds no pandas is what a missing
# package looks like to every importer.
WITHOUT_PANDAS = """
import importlib.abc
import sys


class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoPandas())
sys.argv = ["adstats", *sys.argv[1:]]
from adstats.cli.main import run

try:
    run()
finally:
    assert "pandas" not in sys.modules, "pandas was imported after all"
"""


def test_ingest_works_where_pandas_is_not_installed(db: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_bytes(ndjson([*impressions("np", 3), '{"bad']))

    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PANDAS, "ingest", str(events), "--json",
         "--db", str(db)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(),
        timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert (report["accepted"], report["duplicates"]) == (3, 0)
    assert [r["line"] for r in report["rejected"]] == [4]
    assert stored(db).impressions == 3


# -- --db naming a file that is not a DuckDB database, or in no folder -----------

NOT_DUCKDB = {
    "catalog.json": b'{"accounts": [], "campaigns": []}\n',
    "report.csv": b"campaign_id,impressions\r\nabc,12\r\n",
    "notes.txt": b"remember to back up the database\n",
}


def commands_on(db: Path, tmp_path: Path) -> list[list[str]]:
    catalog = build_catalog().write(tmp_path / "catalog-in.json")
    events = tmp_path / "events-in.ndjson"
    events.write_bytes(ndjson(impressions("x", 2)))
    return [
        ["catalog", "load", str(catalog), "--db", str(db)],
        ["ingest", str(events), "--db", str(db)],
        ["keys", "list", "--account", ACCOUNT, "--db", str(db)],
        ["keys", "create", "--account", ACCOUNT, "--name", "k", "--db", str(db)],
    ]


@pytest.mark.parametrize("name", sorted(NOT_DUCKDB))
def test_db_naming_a_file_that_is_not_a_database_is_refused(
    tmp_path: Path, name: str
) -> None:
    target = tmp_path / name
    target.write_bytes(NOT_DUCKDB[name])
    commands = commands_on(target, tmp_path)

    results = run_cli_parallel(commands)

    for result in results:
        assert_one_line_failure(result, str(target), "not a DuckDB database")
    assert target.read_bytes() == NOT_DUCKDB[name]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name)) == [
        name
    ]


def test_db_in_a_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "deeper"
    commands = commands_on(missing / "stats.duckdb", tmp_path)

    results = run_cli_parallel(commands)

    for result in results:
        assert_one_line_failure(result, str(missing))
    assert not (tmp_path / "no-such-folder").exists()


# -- `adstats demo` replaces only its own databases -------------------------------


def demo(db: Path) -> list[str]:
    return ["demo", "--db", str(db), "--no-serve", "--events", "2000"]


def test_demo_refuses_to_replace_what_it_did_not_make(tmp_path: Path) -> None:
    made_by_load = tmp_path / "made-by-load.duckdb"
    text = tmp_path / "text.duckdb"
    text.write_bytes(b"not a database, but named like one\n")
    catalog = build_catalog().write(tmp_path / "catalog.json")
    loaded = run_cli("catalog", "load", str(catalog), "--db", str(made_by_load))
    assert loaded.returncode == 0, loaded.stderr
    before = stored(made_by_load)

    results = run_cli_parallel([demo(made_by_load), demo(text)])

    for result, target in zip(results, (made_by_load, text), strict=True):
        assert_one_line_failure(result, str(target))
        assert SECRET_PATTERN.search(result.stdout + result.stderr) is None
    assert stored(made_by_load) == before
    assert before.campaigns[placement(1).campaign_id] == "Campaign 1"
    assert text.read_bytes() == b"not a database, but named like one\n"


def test_demo_replaces_its_own_earlier_database(tmp_path: Path) -> None:
    target = tmp_path / "demo.duckdb"

    first = run_cli(*demo(target))
    second = run_cli(*demo(target))

    assert [first.returncode, second.returncode] == [0, 0], second.stderr
    first_key, second_key = (
        SECRET_PATTERN.findall(result.stdout)[0] for result in (first, second)
    )
    assert first_key != second_key
    after = stored(target)
    assert after.demo_label == "true"
    # one key: the second run's, not both (the database was replaced)
    assert after.key_ids == [second_key.split("_")[1]]
    assert after.impressions > 0


# -- a truncated or corrupt .gz file ------------------------------------------------


def broken_gzip(kind: str) -> bytes:
    whole = gzipped(ndjson(impressions("gz", 400)))
    if kind == "truncated":
        return whole[: len(whole) // 2]
    corrupt = bytearray(whole)
    corrupt[len(whole) // 2] ^= 0xFF
    return bytes(corrupt)


@pytest.mark.parametrize("kind", ["truncated", "corrupt"])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_broken_gz_file_fails_with_a_one_line_reason(
    db: Path, tmp_path: Path, kind: str, source: str
) -> None:
    data = broken_gzip(kind)
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(data)

    if source == "file":
        result = run_cli("ingest", str(path), "--db", str(db))
    else:
        result = run_cli("ingest", "-", "--db", str(db), stdin=data)

    assert result.returncode == 1
    assert_one_line_failure(result)
    assert "Aborted" not in result.stderr
    assert stored(db).impressions == 0


def test_a_truncated_gz_file_says_it_is_truncated(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(broken_gzip("truncated"))

    result = run_cli("ingest", str(path), "--db", str(db))

    assert_one_line_failure(result, "truncated")


# -- catalog amounts: plain decimals only -----------------------------------------

NOT_PLAIN_DECIMALS = [
    "1e3",
    "-1",
    ".5",
    "NaN",
    "١٢",
    "+1",
    "1_000",
    " 1",
    "Infinity",
    "-0",
]


def catalog_with(section: str, field_name: str, value: str) -> dict[str, list[Row]]:
    document = build_catalog(campaigns=2).document()
    document["campaigns"].append(
        {"id": ident("c8", 50), "account_id": ACCOUNT, "advertiser_id": ADVERTISER,
         "name": "New campaign"}
    )  # fmt: skip
    document[section][1][field_name] = value
    return document


def test_catalog_amounts_must_be_plain_decimals(db: Path, tmp_path: Path) -> None:
    """Each value as an insertion's price, then budgets; each load on its own
    copy of the database, run at once."""
    cases = [("insertions", "price", value) for value in NOT_PLAIN_DECIMALS]
    cases += [("insertions", "budget", "1e3"), ("campaigns", "budget", "-5")]
    commands = []
    for number, (section, field_name, value) in enumerate(cases):
        copy = tmp_path / f"copy-{number}.duckdb"
        shutil.copy(db, copy)
        path = tmp_path / f"catalog-{number}.json"
        path.write_bytes(orjson.dumps(catalog_with(section, field_name, value)))
        commands.append(["catalog", "load", str(path), "--db", str(copy)])
    before = stored(db)

    results = run_cli_parallel(commands)

    for (section, field_name, _value), result in zip(cases, results, strict=True):
        item = build_catalog(campaigns=2).document()[section][1]["id"]
        assert_one_line_failure(result, item, field_name)
        assert ident("c8", 50) not in result.stderr
    for number in range(len(cases)):
        assert stored(tmp_path / f"copy-{number}.duckdb") == before
    assert ident("c8", 50) not in before.campaigns


# -- a byte order mark at the start of an NDJSON file -----------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("form", ["plain", "gzip", "stdin", "with a non-UTF-8 line"])
def test_a_utf8_bom_at_the_start_is_not_part_of_line_1(
    db: Path, tmp_path: Path, form: str
) -> None:
    lines = ndjson(impressions("bom", 3))
    expected_rejected: list[int] = []
    if form == "with a non-UTF-8 line":
        first, rest = lines.split(b"\n", 1)
        lines = first + b"\n" + b'{"id": "\xff"}\n' + rest
        expected_rejected = [2]
    data = BOM + lines
    path = tmp_path / "events.ndjson"
    path.write_bytes(gzipped(data) if form == "gzip" else data)

    if form == "stdin":
        result = run_cli("ingest", "-", "--json", "--db", str(db), stdin=data)
    else:
        result = run_cli("ingest", str(path), "--json", "--db", str(db))

    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert (report["accepted"], report["duplicates"]) == (3, 0)
    assert [r["line"] for r in report["rejected"]] == expected_rejected
    assert stored(db).impressions == 3


# -- `adstats serve` removes its note when stopped --------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_removes_its_note_when_stopped_by_a_signal(
    db: Path, server_factory: ServerFactory, stop: signal.Signals
) -> None:
    note = Path(f"{db}.server.json")
    server = server_factory(db)
    assert server.process is not None
    assert note.exists()

    server.process.send_signal(stop)
    server.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    assert not note.exists()
    listed = run_cli("keys", "list", "--account", ACCOUNT, "--db", str(db))
    assert (listed.returncode, listed.stdout) == (0, ""), listed.stderr


# -- `adstats keys` failures ------------------------------------------------------


@pytest.fixture(params=["local", "through the server"])
def keyed(
    request: pytest.FixtureRequest, db: Path, server_factory: ServerFactory
) -> Iterator[tuple[Path, str, ServerProcess | None]]:
    """A database with a key; with a server holding it, or none."""
    secret = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "k")])
    server = server_factory(db) if request.param != "local" else None
    yield db, secret.secrets["k"], server


def key_ids(db: Path) -> list[dict[str, Any]]:
    listed = run_cli("keys", "list", "--account", ACCOUNT, "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    return [
        {k: row[k] for k in ("key_id", "revoked_at")}
        for row in map(orjson.loads, listed.stdout.splitlines())
    ]


def test_keys_list_of_an_unknown_account_fails_with_a_reason(
    keyed: tuple[Path, str, ServerProcess | None],
) -> None:
    db, _secret, _server = keyed
    unknown = ident("a8", 99)

    result = run_cli("keys", "list", "--account", unknown, "--db", str(db))

    assert_one_line_failure(result, unknown)


def test_keys_revoke_given_a_secret_fails_without_printing_it(
    keyed: tuple[Path, str, ServerProcess | None],
) -> None:
    db, secret, _server = keyed
    before = key_ids(db)

    result = run_cli("keys", "revoke", secret, "--db", str(db))

    assert_one_line_failure(result)
    assert secret not in result.stderr
    assert secret.split("_", 2)[2] not in result.stderr  # nor its secret part
    assert key_ids(db) == before
    assert before[0]["revoked_at"] is None


@pytest.mark.parametrize("days", ["99999999999", str(10**30), "36601"])
def test_keys_create_with_an_impossible_expiry_fails_with_a_reason(
    keyed: tuple[Path, str, ServerProcess | None], days: str
) -> None:
    db, _secret, _server = keyed
    before = key_ids(db)

    result = run_cli("keys", "create", "--account", ACCOUNT, "--name", "n",
                     "--expires-in-days", days, "--db", str(db))  # fmt: skip

    assert_one_line_failure(result, "--expires-in-days")
    assert "Traceback" not in result.stderr
    assert key_ids(db) == before


# -- `adstats generate --end` an impossible day ------------------------------------


@pytest.mark.parametrize("end", ["2023-02-30", "2023-13-01", "2023-2-3", "yesterday"])
def test_generate_with_an_impossible_end_fails_with_a_reason(
    tmp_path: Path, end: str
) -> None:
    output = tmp_path / "events.ndjson"

    result = run_cli("generate", "--end", end, "--events", "10", "-o", str(output))

    assert_one_line_failure(result, "--end")
    assert not output.exists()


# -- the HTTP API: no redirect for a trailing slash --------------------------------


@dataclass
class Served:
    server: ServerProcess
    http: httpx.Client
    secret: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Three campaigns; 1 and 2 have events on some days of DAYS, 3 only on
    the day after them."""
    path = tmp_path_factory.mktemp("t8-served") / "served.duckdb"
    events: list[Event] = []
    for n, day, content, count in [
        (1, DAYS[0], 0, 3),
        (1, DAYS[2], 1, 2),
        (2, DAYS[1], 1, 4),
        (2, DAYS[1], 2, 1),
        (3, "2024-05-05", 0, 5),
    ]:
        where = placement(n, content)
        for i in range(count):
            view = f"v{n}-{day}-{content}-{i}"
            events.append(where.event(view, "impression", f"{day}T08:00:00Z", view))
    prepared = prepare_db(
        path, build_catalog().document(), [ndjson(events)], keys=[(ACCOUNT, "k")]
    )
    assert prepared.reports[0]["accepted"] == len(events)
    server = ServerProcess(path).start()
    try:
        with server.client() as http:
            yield Served(server, http, prepared.secrets["k"])
    finally:
        server.stop()


SLASHED = [
    "/api/",
    "/api/campaigns/",
    f"/api/campaigns/{ident('c8', 1)}/",
    "/api/stats/campaigns/",
    f"/api/stats/insertions/{ident('e8', 1)}/",
    "/api/stats/contents/",
    "/ingest/",
]


@pytest.mark.parametrize("path", SLASHED)
def test_a_trailing_slash_is_404_without_a_redirect_or_the_key(
    served: Served, path: str
) -> None:
    params = {"api_key": served.secret, "date_from": DAYS[0], "date_to": DAYS[-1]}

    response = served.http.get(path, params=params)

    assert error_of(response) == (404, "not_found")
    assert "location" not in response.headers
    shown = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
    assert served.secret not in shown
    assert served.secret.split("_", 2)[2] not in shown


# -- the entity family's lists by day ----------------------------------------------

ENTITY_ID = {"campaigns": "campaign_id", "insertions": "insertion_id",
             "contents": "content_id"}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(ENTITY_ID))
def test_an_entity_list_by_day_has_every_day_like_its_own_request(
    served: Served, kind: str
) -> None:
    params = {"api_key": served.secret, "date_from": DAYS[0], "date_to": DAYS[-1],
              "by_day": "true"}  # fmt: skip
    field_name = ENTITY_ID[kind]

    listed = served.http.get(f"/api/stats/{kind}", params=params)

    assert listed.status_code == 200, listed.text
    rows: list[Row] = listed.json()
    ids = sorted({row[field_name] for row in rows})
    expected_ids = {
        "campaigns": [ident("c8", 1), ident("c8", 2)],
        "insertions": [ident("e8", 1), ident("e8", 2)],
        "contents": list(CONTENTS),
    }[kind]
    assert ids == expected_ids
    assert [(row["date"], row[field_name]) for row in rows] == [
        (day, entity) for day in DAYS for entity in ids
    ]
    for entity in ids:
        own = served.http.get(f"/api/stats/{kind}/{entity}", params=params)
        assert own.status_code == 200, own.text
        assert [row for row in rows if row[field_name] == entity] == own.json()
    assert sum(row["impressions"] for row in rows) == 10
