"""The examples and tables of README.md and docs/*.md, run against adstats.

- The README's example request, on a live server holding the demo catalog and
  traffic for its day: same path, parameters, row fields in the same order.
- docs/INGESTION.md: its event example is a valid event, its field table is
  the event format, and its report example is the report adstats answers.
- docs/API.md: its endpoint, parameter, metric and error tables, and the row
  field lists, are exactly what the live API answers.
- docs/OPERATIONS.md: the settings table is exactly the ADSTATS_* variables
  src/adstats/settings.py reads, with the same defaults.
- Every command and option the docs mention is in that command's --help.
"""

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest

from adstats.domain.events import EVENT_TYPES
from adstats.generate.demo_catalog import demo_catalog
from adstats.generate.traffic import generate
from adstats.ingest.parse import FIELDS
from adstats.ingest.report import IngestReport
from adstats.settings import Settings
from e2e import (
    CatalogBuilder,
    ServerProcess,
    error_of,
    prepare_db,
    run_cli_parallel,
)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {
    path.name: path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "docs").glob("*.md"))
}
API, INGESTION, OPERATIONS = DOCS["API.md"], DOCS["INGESTION.md"], DOCS["OPERATIONS.md"]
TOKEN = "docs-examples-ingestion-token-0123"
MAX_BODY = 400_000


# -- reading markdown -------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """The text under a heading, up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    pattern = re.compile(rf"^#{{1,{level}}} ", re.M)
    ends = [m.start() for m in pattern.finditer(text[start:])]
    return text[start : start + ends[0]] if ends else text[start:]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def spans(text: str) -> list[str]:
    """Inline code, a span broken over lines joined with a space."""
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", text)]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]


def table(text: str, first_column: str) -> Table:
    """The markdown table whose header starts with first_column."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_column:
            rows = []
            for row in lines[number + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return Table(cells, rows)
    raise AssertionError(f"no table starting with {first_column!r}")


def _paragraph(text: str, start: str) -> str:
    return next(
        p for p in (p.strip() for p in text.split("\n\n")) if p.startswith(start)
    )


def names_in(cell: str) -> list[str]:
    """The code spans of a cell: `date_from`, `date_to` -> both names."""
    return spans(cell)


# -- a live server: the demo catalog, its traffic on the README's day -------------

README_DAY = date(2026, 11, 30)
DOCS_ACCOUNT = "eeeeeeeeeeeeeeeeeeeeeeee"  # holds the ids of INGESTION.md's example


@dataclass
class Live:
    http: httpx.Client
    secret: str  # a key of the demo's first account
    paris: str
    other_campaign: str  # a campaign of another account


def _docs_event() -> dict[str, Any]:
    """INGESTION.md's event example (written over two lines there)."""
    example = fenced(section(INGESTION, "## The event format"), "json")
    assert len(example) == 1
    event: dict[str, Any] = orjson.loads(example[0])
    return event


def _catalog() -> dict[str, Any]:
    """The demo catalog, plus an account that holds INGESTION.md's ids."""
    document = demo_catalog()
    event = _docs_event()
    extra = CatalogBuilder()
    extra.account(DOCS_ACCOUNT, "Docs")
    extra.advertiser("ffffffffffffffffffffffff", DOCS_ACCOUNT, "Docs advertiser")
    extra.campaign(
        event["campaign_id"], DOCS_ACCOUNT, "ffffffffffffffffffffffff", "Docs campaign"
    )
    extra.insertion(event["insertion_id"], event["campaign_id"], "Docs insertion")
    extra.creative(event["creative_id"], DOCS_ACCOUNT, "Docs creative")
    extra.content(event["content_id"], "Docs content")
    for name, items in extra.document().items():
        document[name] = [*document[name], *items]
    return document


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    document = _catalog()
    traffic = io.BytesIO()
    generate(demo_catalog(), traffic, end=README_DAY, days=1, events=20_000, seed=1)
    paris = str(document["accounts"][0]["id"])
    db = tmp_path_factory.mktemp("docs") / "docs.duckdb"
    prepared = prepare_db(db, document, [traffic.getvalue()], [(paris, "docs")])
    assert prepared.reports[0]["accepted"] > 10_000
    server = ServerProcess(
        db, {"ADSTATS_INGEST_TOKEN": TOKEN, "ADSTATS_MAX_BODY_BYTES": str(MAX_BODY)}
    ).start()
    other = next(c for c in document["campaigns"] if c["account_id"] != paris)
    try:
        with server.client() as http:
            yield Live(http, prepared.secrets["docs"], paris, str(other["id"]))
    finally:
        server.stop()


# -- README -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReadmeExample:
    header: str
    path: str
    params: tuple[tuple[str, str], ...]
    rows: list[dict[str, Any]]


def readme_example() -> ReadmeExample:
    text = section(README, "## An example")
    (request,) = fenced(text, "sh")
    (answer,) = fenced(text, "json")
    header = re.search(r"-H \"([^\"]+): \$KEY\"", request)
    url = re.search(r"'(http://[^']+)'", request)
    assert header is not None and url is not None, request
    parts = urlsplit(url[1])
    assert (parts.hostname, parts.port) == ("127.0.0.1", 8000)
    return ReadmeExample(
        header[1],
        parts.path,
        tuple(parse_qsl(parts.query, strict_parsing=True)),
        orjson.loads(answer),
    )


def test_readme_example_request_answers_rows_of_its_shape(live: Live) -> None:
    example = readme_example()

    response = live.http.get(
        example.path, params=example.params, headers={example.header: live.secret}
    )

    assert response.status_code == 200, response.text
    rows = response.json()
    assert len(rows) == len(example.rows) == 1
    assert list(rows[0]) == list(example.rows[0])
    dimensions = (
        "date",
        "campaign_id",
        "campaign_name",
        "advertiser_id",
        "advertiser_name",
    )
    assert {k: rows[0][k] for k in dimensions} == {
        k: example.rows[0][k] for k in dimensions
    }
    for name, value in example.rows[0].items():
        assert type(rows[0][name]) is type(value), name
    assert rows[0]["impressions"] > 0


def test_readme_example_rates_follow_from_its_counters() -> None:
    (row,) = readme_example().rows

    assert row["click_through_rate"] == round(
        row["clicks"] / row["visible_impressions"], 6
    )
    assert row["video_complete_rate"] == round(
        row["video_complete"] / row["video_start"], 6
    )


def test_readme_example_campaign_is_the_demo_s() -> None:
    (row,) = readme_example().rows
    document = demo_catalog()
    campaign = next(c for c in document["campaigns"] if c["id"] == row["campaign_id"])
    advertiser = next(
        a for a in document["advertisers"] if a["id"] == row["advertiser_id"]
    )

    assert (campaign["name"], campaign["advertiser_id"]) == (
        row["campaign_name"],
        row["advertiser_id"],
    )
    assert advertiser["name"] == row["advertiser_name"]


def test_readme_documentation_links_resolve() -> None:
    links = re.findall(
        r"\]\(([^)#]+)(?:#[^)]*)?\)", section(README, "## Documentation")
    )

    assert links
    assert [link for link in links if not (ROOT / link).is_file()] == []


# -- INGESTION.md -----------------------------------------------------------------


def test_event_field_table_is_the_event_format() -> None:
    rules = table(section(INGESTION, "## The event format"), "field")
    names = [name for cell in rules.column("field") for name in names_in(cell)]
    type_rule = rules.rows[rules.column("field").index("`type`")][1]

    assert names == list(FIELDS)
    assert list(_docs_event()) == list(FIELDS)
    assert tuple(names_in(type_rule)) == EVENT_TYPES


def test_report_example_has_the_report_format() -> None:
    (example,) = fenced(section(INGESTION, "## The report"), "json")
    report = orjson.loads(example)

    assert list(report) == ["accepted", "duplicates", "rejected"]
    assert [list(r) for r in report["rejected"]] == [["line", "reason"]]
    assert IngestReport.from_json(report).as_json() == report


def test_report_example_is_what_an_ingestion_answers(live: Live) -> None:
    """998 new events with the example event first, one of them again, and
    the example's offset-less timestamp on line 17: the very report shown."""
    (example,) = fenced(section(INGESTION, "## The report"), "json")
    expected = orjson.loads(example)
    (rejected,) = expected["rejected"]
    naive = re.fullmatch(r'ts "([^"]+)" has no UTC offset.*', rejected["reason"])
    assert naive is not None
    event = _docs_event()
    lines = [event] + [
        event | {"id": f"docs-{n}", "impression_id": f"docs-{n}"} for n in range(1, 998)
    ]
    lines.insert(rejected["line"] - 1, event | {"id": "docs-bad", "ts": naive[1]})
    lines.insert(500, lines[600])
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    assert len(lines) == 1000 and len(body) <= MAX_BODY

    response = live.http.post(
        "/ingest", content=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == expected


# -- API.md -----------------------------------------------------------------------


def test_endpoint_table_lists_the_published_operations(live: Live) -> None:
    endpoints = table(section(API, "## Endpoints"), "method and path")
    documented = set()
    for cell in endpoints.column("method and path"):
        (spelled,) = names_in(cell)
        method, path = spelled.split(" ")
        if path.endswith("[/{id}]"):
            documented.add((method, path.removesuffix("[/{id}]")))
            documented.add((method, path.removesuffix("[/{id}]") + "/{id}"))
        else:
            documented.add((method, re.sub(r"\{[^}]+\}", "{id}", path)))
    document = live.http.get("/api/openapi.json").json()
    published = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{id}", path))
        for path, methods in document["paths"].items()
        for method in methods
    }

    assert documented == published


def _parameter_table() -> Table:
    return table(section(API, "### Parameters"), "parameter")


def _documented_parameters(family: str) -> list[str]:
    found = _parameter_table()
    return [
        name
        for cell, answer in zip(
            found.column("parameter"), found.column(family), strict=True
        )
        if answer == "yes"
        for name in names_in(cell)
    ]


FAMILIES = {"campaigns": "/api/campaigns", "stats": "/api/stats/insertions"}
GOOD_VALUES = {"date_from": "2026-11-30", "date_to": "2026-11-30", "format": "csv"}


@pytest.mark.parametrize("family", FAMILIES)
def test_parameter_table_lists_what_each_family_takes(live: Live, family: str) -> None:
    path = FAMILIES[family]
    documented = _documented_parameters(family)
    every = [
        name
        for cell in _parameter_table().column("parameter")
        for name in names_in(cell)
    ]
    document = live.http.get("/api/openapi.json").json()
    published = [
        p["name"]
        for p in document["paths"][path]["get"]["parameters"]
        if p["in"] == "query"
    ]

    assert sorted(documented) == sorted(published)
    for name in every:
        value = live.secret if name == "api_key" else GOOD_VALUES.get(name, "true")
        response = live.http.get(path, params={"api_key": live.secret, name: value})
        if name == "api_key":
            assert response.status_code == 200, response.text
        elif name in documented:
            assert response.status_code == 200, (name, response.text)
        else:
            assert error_of(response) == (400, "bad_request"), name


def _metric_table() -> list[tuple[str, str]]:
    """(campaign family name, entity family name) of each metric row."""
    metrics = table(section(API, "### Metrics"), "metric")
    found = []
    for cell in metrics.column("metric"):
        names = names_in(cell)
        found.append((names[0], names[-1]))
    return found


def _rows(live: Live, path: str, **params: str) -> list[dict[str, Any]]:
    response = live.http.get(
        path,
        params={
            "api_key": live.secret,
            "date_from": "2026-11-30",
            "date_to": "2026-11-30",
            **params,
        },
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    assert rows
    return rows


def test_metric_table_lists_a_campaign_row_s_metrics_in_order(live: Live) -> None:
    row = _rows(live, "/api/campaigns")[0]

    assert [name for name, _ in _metric_table()] == list(row)[-len(_metric_table()) :]
    assert list(row)[: -len(_metric_table())] == [
        "campaign_id",
        "campaign_name",
        "advertiser_id",
        "advertiser_name",
    ]


@pytest.mark.parametrize("kind", ["campaigns", "insertions", "contents"])
def test_entity_rows_hold_the_fields_the_docs_list(live: Live, kind: str) -> None:
    paragraph = _paragraph(section(API, "### Rows"), "An entity-family row")
    listed = [
        s.replace("{entity}", kind[:-1])
        for s in spans(paragraph)
        if not s.startswith("by_")
    ]
    listed = listed[: listed.index("spent") + 1]
    row = _rows(live, f"/api/stats/{kind}", by_day="true")[0]
    entity_names = {entity for _, entity in _metric_table()}

    assert list(row) == listed
    assert set(listed[3:]) <= entity_names


def test_campaign_rows_hold_the_fields_the_docs_list(live: Live) -> None:
    paragraph = _paragraph(section(API, "### Rows"), "A `/api/campaigns` row")
    listed = [s for s in spans(paragraph) if s != "/api/campaigns"]
    listed = [s for s in listed if not s.startswith("by_")]
    row = _rows(
        live,
        "/api/campaigns",
        by_day="1",
        by_insertion="1",
        by_content="1",
        by_creative="1",
    )[0]

    assert list(row) == listed + [name for name, _ in _metric_table()]


def test_error_table_codes_are_what_the_server_answers(
    live: Live, tmp_path: Path
) -> None:
    errors = table(section(API, "## Errors"), "status")
    documented = {
        (int(status), names_in(code)[0])
        for status, code in zip(
            errors.column("status"), errors.column("code"), strict=True
        )
    }
    http = live.http
    key = {"X-Api-Key": live.secret}
    answered = {
        error_of(http.get("/api/campaigns", params={"by_days": "true"}, headers=key)),
        error_of(http.get("/api/campaigns")),
        error_of(
            http.post("/ingest", content=b"", headers={"Authorization": "Bearer x"})
        ),
        error_of(http.get(f"/api/campaigns/{live.other_campaign}", headers=key)),
        error_of(http.delete("/api/campaigns", headers=key)),
        error_of(
            http.post(
                "/ingest",
                content=b"\n" * (MAX_BODY + 1),
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        ),
    }
    answered |= _answers_of_a_strict_server(tmp_path)

    # A fault of adstats or its storage (5xx) cannot be caused from outside;
    # every other row is answered, with its code.
    assert {status for status, _code in documented - answered} <= {500, 503}
    assert (500, "internal") in documented
    assert answered <= documented


def _answers_of_a_strict_server(folder: Path) -> set[tuple[int, str]]:
    """403 without an ingestion token, and 429 over a rate of 1 (burst 2)."""
    cat = CatalogBuilder()
    cat.account(DOCS_ACCOUNT, "Docs")
    prepared = prepare_db(
        folder / "strict.duckdb", cat.document(), [], [(DOCS_ACCOUNT, "strict")]
    )
    server = ServerProcess(
        folder / "strict.duckdb", {"ADSTATS_RATE_LIMIT": "1", "ADSTATS_RATE_BURST": "2"}
    ).start()
    try:
        with server.client(headers={"X-Api-Key": prepared.secrets["strict"]}) as http:
            found = {error_of(http.post("/ingest", content=b"{}"))}
            for _attempt in range(20):  # 3 at once are over a burst of 2
                limited = http.get("/api/campaigns")
                if limited.status_code == 429:
                    break
            found.add(error_of(limited))
            assert int(limited.headers["retry-after"]) >= 1
    finally:
        server.stop()
    return found


# -- OPERATIONS.md ----------------------------------------------------------------


def test_settings_table_lists_exactly_the_settings_read() -> None:
    settings = table(section(OPERATIONS, "## Settings"), "variable")
    documented = [names_in(cell)[0] for cell in settings.column("variable")]
    source = (ROOT / "src/adstats/settings.py").read_text(encoding="utf-8")
    read = re.findall(r"\"(ADSTATS_[A-Z_]+)\"", source)

    assert sorted(documented) == sorted(set(read))


def test_settings_table_defaults_are_the_real_ones() -> None:
    settings = table(section(OPERATIONS, "## Settings"), "variable")
    defaults = Settings()
    field_names = {f.name for f in fields(Settings)}
    for cell, default in zip(
        settings.column("variable"), settings.column("default"), strict=True
    ):
        name = names_in(cell)[0].removeprefix("ADSTATS_").lower()
        assert name in field_names, name
        shown = names_in(default)
        if default.startswith("`"):
            assert shown[0] == str(getattr(defaults, name)), name
        else:
            assert getattr(defaults, name) is None, name


# -- the command line -------------------------------------------------------------


def _doc_units() -> Iterator[list[str]]:
    """Each paragraph, table row or code-block line of the docs, as the list
    of its code snippets in order (a code-block line is one snippet)."""
    for text in [README, *DOCS.values()]:
        for block in re.split(r"^```.*$", text, flags=re.M)[1::2]:
            for line in block.splitlines():
                yield [line.split("  #")[0]]
        prose = "".join(re.split(r"^```.*$", text, flags=re.M)[0::2])
        for paragraph in re.split(r"\n\s*\n", prose):
            lines = paragraph.splitlines()
            if lines and all(line.startswith("|") for line in lines):
                yield from (spans(line) for line in lines)
            else:
                yield spans(paragraph)


@dataclass
class Command:
    path: tuple[str, ...]
    options: set[str]
    subcommands: list[str]


def _parse_help(path: tuple[str, ...], text: str) -> Command:
    options = set(re.findall(r"^\s+(--[a-z][a-z-]*)", text, re.M))
    options |= set(re.findall(r" / (--[a-z][a-z-]*)", text))
    commands = text.split("\nCommands:\n")[1] if "\nCommands:\n" in text else ""
    subcommands = re.findall(r"^  ([a-z][a-z-]*)\b", commands, re.M)
    return Command(path, options, subcommands)


def _cli_tree() -> dict[tuple[str, ...], Command]:
    tree: dict[tuple[str, ...], Command] = {}
    pending: list[tuple[str, ...]] = [()]
    for _depth in range(3):
        results = run_cli_parallel([[*path, "--help"] for path in pending])
        pending = []
        for result in results:
            assert result.returncode == 0, result.stderr
            path = result.args[:-1]
            tree[path] = _parse_help(path, result.stdout)
            pending += [(*path, name) for name in tree[path].subcommands]
        if not pending:
            return tree
    raise AssertionError(f"commands nested deeper than expected: {pending}")


def _documented_options(
    tree: dict[tuple[str, ...], Command],
) -> Iterator[tuple[tuple[str, ...] | None, str]]:
    """(command path, option) for every option the docs mention; the command
    is the last one named before it in the same paragraph, None when none is
    (an option every command takes). A command mention alone yields (path, "")."""
    for unit in _doc_units():
        current: tuple[str, ...] | None = None
        for snippet in unit:
            words = snippet.split()
            if "./dev" in words and "adstats" not in words:
                current = None
                continue  # the task runner's own options (./dev bench --scale)
            if "adstats" in words:
                path: tuple[str, ...] = ()
                for word in words[words.index("adstats") + 1 :]:
                    if (*path, word) not in tree:
                        break
                    path = (*path, word)
                current = path
                yield current, ""
                words = words[words.index("adstats") + 1 :]
            elif len(words) == 1 and (words[0],) in tree:
                current = (words[0],)
            for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(words)):
                yield current, option


def _leaves_under(
    tree: dict[tuple[str, ...], Command], path: tuple[str, ...]
) -> list[tuple[str, ...]]:
    """The command itself, or every command of a group (`adstats keys ...`)."""
    if not tree[path].subcommands:
        return [path]
    return [
        leaf
        for name in tree[path].subcommands
        for leaf in _leaves_under(tree, (*path, name))
    ]


def test_every_option_the_docs_mention_is_in_its_command_s_help() -> None:
    tree = _cli_tree()
    mentions = list(_documented_options(tree))
    documented = {path for path, _ in mentions if path is not None}
    leaves = {path for path in documented if not tree[path].subcommands}
    missing = []
    for path, option in mentions:
        if not option:
            continue
        if path is not None and option in tree[path].options:
            continue
        under = sorted(leaves) if path is None else _leaves_under(tree, path)
        for command in under:
            if option not in tree[command].options:
                missing.append((" ".join(("adstats", *command)), option))

    assert {"--db", "--help", "--json", "--account", "--expires-in-days"} <= {
        option for _, option in mentions
    }
    assert {
        ("catalog", "load"),
        ("ingest",),
        ("keys", "create"),
        ("keys", "list"),
        ("keys", "revoke"),
        ("serve",),
        ("demo",),
    } <= leaves
    assert missing == []
