"""The `adstats` command (SPEC section 8), run as a real subprocess."""

import json
import re
import socket
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from adstats.keys.secrets import check, now
from adstats.query.answers import StatsAnswers
from adstats.query.params import StatsQuery
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    SECRET_PATTERN,
    CatalogBuilder,
    Placement,
    ServerFactory,
    Traffic,
    all_answers,
    gzipped,
    ident,
    ndjson,
    prepare_db,
    run_cli,
    run_cli_parallel,
    total_impressions,
)

ACCOUNT, OTHER_ACCOUNT = ident("a3", 1), ident("a3", 2)
ADVERTISER, CAMPAIGN = ident("ad3", 1), ident("c3", 1)
INSERTION, CREATIVE, CONTENT = ident("e3", 1), ident("f3", 1), ident("d3", 1)
WHERE = Placement(CAMPAIGN, INSERTION, CREATIVE, CONTENT)
DAY = date(2024, 4, 1)


def build_catalog() -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "CLI account", "EUR", "UTC")
    cat.account(OTHER_ACCOUNT, "Other account", "USD", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    cat.campaign(CAMPAIGN, ACCOUNT, ADVERTISER, "Campaign")
    cat.insertion(INSERTION, CAMPAIGN, "Insertion", "cpm", "10.00")
    cat.creative(CREATIVE, ACCOUNT, "Creative")
    cat.content(CONTENT, "Page")
    return cat


def impressions(prefix: str, count: int) -> bytes:
    return ndjson(
        WHERE.event(
            f"{prefix}-{i}", "impression", f"2024-04-01T12:00:{i:02d}Z", f"{prefix}-{i}"
        )
        for i in range(count)
    )


def with_rejections() -> bytes:
    """Lines 2 and 4 are rejected, line 5 repeats line 1."""
    return ndjson(
        [
            WHERE.event("x1", "impression", "2024-04-01T10:00:00Z", "x"),
            '{"id": "x2", ',
            WHERE.event("x3", "visible_impression", "2024-04-01T10:00:01Z", "x"),
            WHERE.event("x4", "hover", "2024-04-01T10:00:02Z", "x"),
            WHERE.event("x1", "impression", "2024-04-01T10:00:00Z", "x"),
        ]
    )


def counted(db: Path) -> dict[str, Any]:
    """The campaign's numbers on DAY, read through the Python API."""
    store = DuckDBStore(str(db))
    try:
        account = store.catalog_state().catalog.accounts[ACCOUNT]
        rows = StatsAnswers(store).campaigns(account, CAMPAIGN, StatsQuery(DAY, DAY))
    finally:
        store.close()
    assert len(rows) == 1
    return {
        k: rows[0][k] for k in ("campaign_name", "impressions", "visible_impressions")
    }


def catalog_of(db: Path) -> Any:
    store = DuckDBStore(str(db))
    try:
        return store.catalog_state().catalog
    finally:
        store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.duckdb"
    prepare_db(path, build_catalog().document())
    return path


def assert_failed_with_one_line(result: Any, *mentions: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.error_lines) == 1, result.stderr
    for text in mentions:
        assert text in result.stderr


# -- help -------------------------------------------------------------------------

SUBCOMMANDS = [
    ("catalog",),
    ("catalog", "load"),
    ("ingest",),
    ("keys",),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("serve",),
    ("demo",),
    ("generate",),
]
# SPEC section 8: every subcommand takes --db (generate reads a stored catalog).
TAKES_DB = {
    ("catalog", "load"),
    ("ingest",),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("serve",),
    ("demo",),
    ("generate",),
}


def test_every_subcommand_has_help() -> None:
    results = run_cli_parallel([["--help"], *[[*w, "--help"] for w in SUBCOMMANDS]])

    for words, result in zip([(), *SUBCOMMANDS], results, strict=True):
        assert result.returncode == 0, (words, result.stderr)
        usage = " ".join(("Usage: adstats", *words))
        assert usage in result.stdout, (words, result.stdout)
        assert ("--db" in result.stdout) == (words in TAKES_DB), words
    top = results[0].stdout
    for name in ("catalog", "ingest", "keys", "serve", "demo"):
        assert re.search(rf"^\W*{name}\b", top, re.MULTILINE), name


# -- ingest -----------------------------------------------------------------------


def test_ingest_with_rejected_lines_succeeds_and_reports_them(
    db: Path, tmp_path: Path
) -> None:
    (tmp_path / "events.ndjson").write_bytes(with_rejections())

    result = run_cli("ingest", "events.ndjson", "--db", str(db), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "events.ndjson: accepted 2, duplicates 1, rejected 2"
    assert len(lines) == 3
    assert re.fullmatch(r"  line 2: .*JSON.*", lines[1])
    assert re.fullmatch(r"  line 4: .*hover.*", lines[2])
    assert counted(db) == {
        "campaign_name": "Campaign",
        "impressions": 1,
        "visible_impressions": 1,
    }


def test_ingest_json_report_is_one_object_per_file(db: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(with_rejections())
    second.write_bytes(impressions("s", 3) + b"not json\n")

    result = run_cli("ingest", str(first), str(second), "--json", "--db", str(db))

    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["file"], r["accepted"], r["duplicates"]) for r in reports] == [
        (str(first), 2, 1),
        (str(second), 3, 0),
    ]
    assert [[x["line"] for x in r["rejected"]] for r in reports] == [[2, 4], [4]]
    assert counted(db)["impressions"] == 4


def test_ingest_from_standard_input(db: Path) -> None:
    result = run_cli("ingest", "-", "--db", str(db), stdin=impressions("in", 4))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "-: accepted 4, duplicates 0, rejected 0\n"
    assert counted(db)["impressions"] == 4


def test_ingest_gzip_from_standard_input(db: Path) -> None:
    result = run_cli(
        "ingest", "-", "--db", str(db), stdin=gzipped(impressions("gz-in", 3))
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "-: accepted 3, duplicates 0, rejected 0\n"
    assert counted(db)["impressions"] == 3


def test_ingest_gz_files(db: Path, tmp_path: Path) -> None:
    packed = tmp_path / "events.ndjson.gz"
    packed.write_bytes(gzipped(with_rejections()))

    result = run_cli("ingest", "events.ndjson.gz", "--db", str(db), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "events.ndjson.gz: accepted 2, duplicates 1, rejected 2"
    )
    assert counted(db)["impressions"] == 1


def test_ingest_while_the_server_runs_goes_through_it(
    db: Path, tmp_path: Path, server_factory: ServerFactory
) -> None:
    prepared = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "key")])
    events = tmp_path / "events.ndjson"
    events.write_bytes(with_rejections() + impressions("srv", 5))
    reference = tmp_path / "reference.duckdb"
    prepare_db(reference, build_catalog().document())
    alone = run_cli("ingest", str(events), "--db", str(reference))
    server = server_factory(db)

    result = run_cli("ingest", str(events), "--db", str(db))

    assert result.returncode == 0, result.stderr
    assert result.stdout == alone.stdout
    assert (
        result.stdout.splitlines()[0]
        == f"{events}: accepted 7, duplicates 1, rejected 2"
    )
    answer = httpx.get(
        f"{server.base_url}/api/campaigns/{CAMPAIGN}",
        params={"api_key": prepared.secrets["key"], "date_from": "2024-04-01",
                "date_to": "2024-04-01"},
    )  # fmt: skip
    assert answer.status_code == 200
    assert (
        answer.json()[0]["impressions"],
        answer.json()[0]["visible_impressions"],
    ) == (
        6,
        1,
    )


def test_large_ingestion_through_the_server_equals_a_local_one(
    generated_traffic: Traffic, tmp_path: Path, server_factory: ServerFactory
) -> None:
    """Chunk after chunk handed to the server: the same report, line numbers
    included, and the same answers as the command doing it alone."""
    served, alone = tmp_path / "served.duckdb", tmp_path / "alone.duckdb"
    for db in (served, alone):
        prepare_db(db, generated_traffic.catalog)
    server = server_factory(served)
    events = str(generated_traffic.events)

    through, local = run_cli_parallel(
        [
            ["ingest", events, "--json", "--db", str(served)],
            ["ingest", events, "--json", "--db", str(alone)],
        ]
    )
    server.stop()

    assert (through.returncode, local.returncode) == (0, 0), (
        through.stderr + local.stderr
    )
    assert json.loads(through.stdout) == json.loads(local.stdout)
    assert len(json.loads(local.stdout)["rejected"]) > 0
    expected = all_answers(alone)
    assert total_impressions(expected) > 0
    assert all_answers(served) == expected


# -- catalog ----------------------------------------------------------------------


def _broken(kind: str) -> CatalogBuilder:
    """A rename of the campaign, and one broken item."""
    cat = CatalogBuilder()
    cat.campaign(CAMPAIGN, ACCOUNT, ADVERTISER, "Renamed campaign")
    if kind == "unknown campaign":
        cat.insertion(ident("e3", 99), ident("c3", 99), "Orphan", "cpm", "1.00")
    elif kind == "unknown currency":
        cat.account(ident("a3", 99), "Bad currency", "XYZ", "UTC")
    elif kind == "unknown timezone":
        cat.account(ident("a3", 99), "Bad timezone", "EUR", "Mars/Olympus_Mons")
    elif kind == "unknown advertiser":
        cat.campaign(ident("c3", 99), ACCOUNT, ident("ad3", 99), "Orphan")
    return cat


BROKEN = {
    "unknown campaign": ident("e3", 99),
    "unknown currency": ident("a3", 99),
    "unknown timezone": ident("a3", 99),
    "unknown advertiser": ident("c3", 99),
}


def test_broken_catalog_is_refused_whole(tmp_path: Path) -> None:
    """Each on its own database, run at once: a command start costs a second."""
    dbs = {kind: tmp_path / f"{n}.duckdb" for n, kind in enumerate(BROKEN)}
    for db in dbs.values():
        prepare_db(db, build_catalog().document())
    before = catalog_of(dbs["unknown campaign"])

    results = run_cli_parallel(
        [
            ["catalog", "load", str(_broken(kind).write(tmp_path / f"{n}.json")),
             "--db", str(dbs[kind])]
            for n, kind in enumerate(BROKEN)
        ]
    )  # fmt: skip

    for (kind, named), result in zip(BROKEN.items(), results, strict=True):
        assert_failed_with_one_line(result, named)
        assert catalog_of(dbs[kind]) == before, kind
        assert counted(dbs[kind])["campaign_name"] == "Campaign", kind


def test_failures_exit_non_zero_with_a_one_line_reason(tmp_path: Path) -> None:
    """Each on its own database, run at once: a command start costs a second."""
    not_json = tmp_path / "not-json.json"
    not_json.write_text('{"accounts": [')
    unknown_account, unknown_key = ident("a3", 77), "0" * 24
    cases = [
        (["ingest", str(tmp_path / "missing.ndjson")], "missing.ndjson"),
        (["catalog", "load", str(tmp_path / "nope.json")], "nope.json"),
        (["catalog", "load", str(not_json)], "not-json.json"),
        (
            ["keys", "create", "--account", unknown_account, "--name", "x"],
            unknown_account,
        ),
        (["keys", "revoke", unknown_key], unknown_key),
    ]

    results = run_cli_parallel(
        [
            [*args, "--db", str(tmp_path / f"{n}.duckdb")]
            for n, (args, _) in enumerate(cases)
        ]
    )

    for (_args, named), result in zip(cases, results, strict=True):
        assert_failed_with_one_line(result, named)


# -- keys -------------------------------------------------------------------------


def test_keys_create_prints_only_the_secret(db: Path) -> None:
    result = run_cli("keys", "create", "--account", ACCOUNT, "--name", "reports",
                     "--description", "for the reports", "--db", str(db))  # fmt: skip

    assert result.returncode == 0, result.stderr
    secret = result.stdout.removesuffix("\n")
    assert result.stdout == secret + "\n"
    assert SECRET_PATTERN.fullmatch(secret)
    assert secret not in result.stderr
    store = DuckDBStore(str(db))
    try:
        (record,) = store.api_keys(ACCOUNT)
        assert check(record, secret, now()) == record
    finally:
        store.close()
    assert record.key_id in result.stderr
    listed = run_cli("keys", "list", "--account", ACCOUNT, "--db", str(db))
    assert listed.returncode == 0
    assert secret not in listed.stdout
    assert [
        (k["key_id"], k["name"], k["description"], k["revoked_at"], k["expires_at"])
        for k in map(json.loads, listed.stdout.splitlines())
    ] == [(record.key_id, "reports", "for the reports", None, None)]


# -- where the database is ----------------------------------------------------------


def test_db_defaults_to_adstats_db_then_the_working_directory(tmp_path: Path) -> None:
    path = build_catalog().write(tmp_path / "catalog.json")
    elsewhere = tmp_path / "elsewhere"
    by_env = elsewhere / "from-env.duckdb"
    by_flag = tmp_path / "from-flag.duckdb"
    work = tmp_path / "work"
    work.mkdir()
    elsewhere.mkdir()

    from_env = run_cli(
        "catalog", "load", str(path), env={"ADSTATS_DB": str(by_env)}, cwd=work
    )
    from_flag = run_cli("catalog", "load", str(path), "--db", str(by_flag),
                        env={"ADSTATS_DB": str(by_env)}, cwd=work)  # fmt: skip
    assert sorted(p.name for p in work.iterdir()) == []
    default = run_cli("catalog", "load", str(path), cwd=work)

    assert [r.returncode for r in (from_env, from_flag, default)] == [0, 0, 0]
    assert sorted(p.name for p in work.iterdir()) == ["adstats.duckdb"]
    for location in (by_env, by_flag, work / "adstats.duckdb"):
        assert set(catalog_of(location).campaigns) == {CAMPAIGN}


# -- secrets and serving ------------------------------------------------------------


def test_keys_revoke_given_the_secret_never_prints_it(db: Path) -> None:
    secret = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "k")]).secrets[
        "k"
    ]

    result = run_cli("keys", "revoke", secret, "--db", str(db))

    assert secret not in result.stdout + result.stderr
    assert len(result.error_lines) == 1


def test_catalog_refused_while_serving_changes_nothing(
    db: Path, tmp_path: Path, server_factory: ServerFactory
) -> None:
    secret = prepare_db(db, build_catalog().document(), keys=[(ACCOUNT, "k")]).secrets[
        "k"
    ]
    server = server_factory(db)
    path = _broken("unknown campaign").write(tmp_path / "broken.json")

    result = run_cli("catalog", "load", str(path), "--db", str(db))

    assert_failed_with_one_line(result, ident("e3", 99))
    answer = httpx.get(f"{server.base_url}/api/campaigns/{CAMPAIGN}",
                       params={"api_key": secret})  # fmt: skip
    assert answer.json()[0]["campaign_name"] == "Campaign"


def test_commands_work_after_the_server_stops_or_crashes(
    db: Path, server_factory: ServerFactory
) -> None:
    """A graceful stop removes the server's note; a stale one left by a crash
    is harmless."""
    note = Path(f"{db}.server.json")
    server_factory(db).stop()
    assert not note.exists()
    server_factory(db).kill()
    assert note.exists()

    result = run_cli("ingest", "-", "--db", str(db), stdin=impressions("after", 2))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "-: accepted 2, duplicates 0, rejected 0\n"
    assert counted(db)["impressions"] == 2


def test_serve_on_a_port_in_use_fails_with_a_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--db", str(tmp_path / "busy.duckdb"), "--host",
                         "127.0.0.1", "--port", str(port), timeout=60)  # fmt: skip

    assert result.returncode != 0
    assert result.stdout == ""
    assert str(port) in result.error_lines[-1]
