"""Helpers for end-to-end tests: the real `adstats` command and server.

Servers run as `adstats serve` subprocesses bound to 127.0.0.1 on a free port;
every request goes to that loopback address only. Commands run as `adstats`
subprocesses. Setup that is not itself under test (a catalog and events loaded
before a server starts) goes through the same admin verbs in-process, which is
much faster than a subprocess per step.
"""

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from adstats.admin.handoff import read_note
from adstats.admin.local import LocalAdmin
from adstats.ingest.reader import chunk_of_bytes
from adstats.query.answers import ENTITY_KINDS, StatsAnswers
from adstats.query.params import StatsQuery
from adstats.storage.base import Store
from adstats.storage.duckdb.store import DuckDBStore

ADSTATS = str(Path(sys.executable).with_name("adstats"))
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
SECRET_PATTERN = re.compile(r"ads_[0-9a-f]{24}_[A-Za-z0-9_-]{43}")

Row = dict[str, Any]
Event = dict[str, Any]

# SPEC section 4, in order.
CAMPAIGN_METRICS = (
    "impressions",
    "visible_impressions",
    "engagements",
    "votes",
    "clicks",
    "click_through_rate",
    "form_submissions",
    "optin_submissions",
    "video_impressions",
    "video_visible_impressions",
    "video_start",
    "video_first_quartile",
    "video_midpoint",
    "video_third_quartile",
    "video_complete",
    "video_complete_rate",
    "billables",
    "spent",
)
RATES = ("click_through_rate", "video_complete_rate")
COUNTERS = tuple(m for m in CAMPAIGN_METRICS if m not in (*RATES, "spent"))

# SPEC section 6, entity family: the plural names are this family's own.
ENTITY_METRICS = (
    "impressions",
    "visible_impressions",
    "engagements",
    "votes",
    "clicks",
    "video_impressions",
    "video_visible_impressions",
    "video_starts",
    "video_first_quartiles",
    "video_midpoints",
    "video_third_quartiles",
    "video_completes",
    "billables",
    "spent",
)
ENTITY_TO_CAMPAIGN_METRIC = {
    name: {
        "video_starts": "video_start",
        "video_first_quartiles": "video_first_quartile",
        "video_midpoints": "video_midpoint",
        "video_third_quartiles": "video_third_quartile",
        "video_completes": "video_complete",
    }.get(name, name)
    for name in ENTITY_METRICS
}


# -- what the run must never leak ---------------------------------------------------


@dataclass
class RunRecord:
    """Every secret the test run hands out, and where its servers log.

    conftest.py points log_folder at one session-wide folder, so that every
    server's standard output and error land there, and checks at the end of
    the session that none of the secrets below appears in any of them.
    """

    log_folder: Path | None = None
    secrets: set[str] = field(default_factory=set)
    _logs: int = 0

    def remember(self, *secrets: str | None) -> None:
        """Records secrets (API keys, ingestion and admin tokens); a short
        value is not one (a server refuses an ingestion token under 16)."""
        self.secrets.update(s for s in secrets if s is not None and len(s) >= 16)

    def remember_printed(self, *texts: str) -> None:
        """Records every API key secret printed in texts (`keys create`, `demo`)."""
        for text in texts:
            self.remember(*SECRET_PATTERN.findall(text))

    def log_path_for(self, db: Path) -> Path | None:
        """A fresh log file in the session folder, or None without one."""
        if self.log_folder is None:
            return None
        self._logs += 1
        return self.log_folder / f"{self._logs:04d}-{db.parent.name}-{db.name}.log"


RUN = RunRecord()


def masked(secret: str) -> str:
    """Enough of a secret to tell which one it is in a failure message."""
    return f"{secret[:10]}...({len(secret)} characters)"


def leaks_in(text: str, secrets: Iterable[str]) -> list[str]:
    """Which secrets, and which strings shaped like an API key, text holds."""
    found = {masked(s) for s in secrets if s and s in text}
    found.update(masked(s) for s in SECRET_PATTERN.findall(text))
    return sorted(found)


def log_leaks(folder: Path, secrets: Iterable[str]) -> dict[str, list[str]]:
    """Log file name -> the leaks in it, for every log file of folder."""
    wanted = list(secrets)
    found = {}
    for path in sorted(folder.iterdir()):
        leaks = leaks_in(path.read_text(errors="replace"), wanted)
        if leaks:
            found[path.name] = leaks
    return found


# -- environment and processes ---------------------------------------------------


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any ADSTATS_ setting, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADSTATS_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
) -> CliResult:
    """Runs `adstats ARGS` to completion."""
    done = subprocess.run(
        [ADSTATS, *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=clean_env(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    result = CliResult(
        tuple(args),
        done.returncode,
        done.stdout.decode("utf-8"),
        done.stderr.decode("utf-8"),
    )
    RUN.remember_printed(result.stdout, result.stderr)
    return result


def run_cli_parallel(
    commands: Sequence[Sequence[str]], cwd: Path | None = None
) -> list[CliResult]:
    """Runs several `adstats` commands at once (each start costs a second)."""
    processes = [
        subprocess.Popen(
            [ADSTATS, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=cwd,
        )
        for args in commands
    ]
    results = []
    try:
        for args, process in zip(commands, processes, strict=True):
            out, err = finish(process)
            results.append(
                CliResult(tuple(args), process.returncode, out.decode(), err.decode())
            )
            RUN.remember_printed(results[-1].stdout, results[-1].stderr)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def finish(
    process: subprocess.Popen[bytes], timeout: float = 300.0
) -> tuple[bytes, bytes]:
    """Waits for a command started with pipes; kills it if it hangs."""
    try:
        return process.communicate(timeout=timeout)
    except BaseException:
        process.kill()
        process.communicate()
        raise


# Tests send many requests per key in a burst; those that test the per-key
# rate limit set their own.
GENEROUS_RATES = {"ADSTATS_RATE_LIMIT": "100000", "ADSTATS_RATE_BURST": "100000"}


@dataclass
class ServerProcess:
    """`adstats serve --db DB` on 127.0.0.1, a fresh free port at each start,
    with env added to its environment (generous rate limits unless it says).

    Its standard output and error go to log_path: by default a file of the
    session's log folder (RUN), else DB.serve.log."""

    db: Path
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60.0, **kwargs)

    def start(self) -> "ServerProcess":
        assert self.process is None, "already started"
        self.port = free_port()
        if self.log_path is None:
            self.log_path = RUN.log_path_for(self.db)
        log_path = self.log_path or Path(f"{self.db}.serve.log")
        RUN.remember(self.env.get("ADSTATS_INGEST_TOKEN"))
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [ADSTATS, "serve", "--db", str(self.db), "--host", HOST,
             "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=clean_env({**GENEROUS_RATES, **self.env}),
            cwd=self.db.parent,
        )  # fmt: skip
        self._wait_until_ready(log_path)
        return self

    def _wait_until_ready(self, log_path: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self._forget()
                raise RuntimeError(
                    f"adstats serve exited with {code}:\n"
                    + log_path.read_text(errors="replace")
                )
            try:
                if httpx.get(f"{self.base_url}/api", timeout=1.0).status_code == 200:
                    self._remember_admin_token()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("adstats serve did not answer GET /api in time")

    def _remember_admin_token(self) -> None:
        """The token of the note the server leaves for commands is a secret too."""
        note = read_note(str(self.db))
        if note is not None:
            RUN.remember(note.token)

    def stop(self) -> int:
        """Stops the server gracefully (SIGTERM), killing it if it hangs."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._forget()
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, nothing gets to clean up."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self._forget()

    def _forget(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        self.process = None

    def log_text(self) -> str:
        path = self.log_path or Path(f"{self.db}.serve.log")
        return path.read_text(errors="replace") if path.exists() else ""


ServerFactory = Callable[..., ServerProcess]


# -- catalog ----------------------------------------------------------------------


def ident(prefix: str, number: int) -> str:
    """A 24-character lowercase hexadecimal id: a hex prefix, then the number."""
    value = prefix + format(number, "x").rjust(24 - len(prefix), "0")
    assert re.fullmatch(r"[0-9a-f]{24}", value), value
    return value


@dataclass
class CatalogBuilder:
    """A catalog document (SPEC section 1), built item by item."""

    accounts: list[Row] = field(default_factory=list)
    advertisers: list[Row] = field(default_factory=list)
    campaigns: list[Row] = field(default_factory=list)
    insertions: list[Row] = field(default_factory=list)
    contents: list[Row] = field(default_factory=list)
    creatives: list[Row] = field(default_factory=list)

    def account(
        self, id: str, name: str, currency: str = "EUR", timezone: str = "UTC"
    ) -> str:
        self.accounts.append(
            {"id": id, "name": name, "currency": currency, "timezone": timezone}
        )
        return id

    def advertiser(self, id: str, account_id: str, name: str) -> str:
        self.advertisers.append({"id": id, "account_id": account_id, "name": name})
        return id

    def campaign(
        self,
        id: str,
        account_id: str,
        advertiser_id: str,
        name: str,
        budget: str | None = None,
    ) -> str:
        item: Row = {"id": id, "account_id": account_id,
                     "advertiser_id": advertiser_id, "name": name}  # fmt: skip
        if budget is not None:
            item["budget"] = budget
        self.campaigns.append(item)
        return id

    def insertion(
        self,
        id: str,
        campaign_id: str,
        name: str,
        pricing_model: str = "cpm",
        price: str = "1.00",
        budget: str | None = None,
    ) -> str:
        item: Row = {"id": id, "campaign_id": campaign_id, "name": name,
                     "pricing_model": pricing_model, "price": price}  # fmt: skip
        if budget is not None:
            item["budget"] = budget
        self.insertions.append(item)
        return id

    def content(self, id: str, name: str) -> str:
        self.contents.append({"id": id, "name": name})
        return id

    def creative(
        self, id: str, account_id: str, name: str, format: str = "display"
    ) -> str:
        self.creatives.append(
            {"id": id, "account_id": account_id, "name": name, "format": format}
        )
        return id

    def document(self) -> dict[str, list[Row]]:
        return {
            "accounts": list(self.accounts),
            "advertisers": list(self.advertisers),
            "campaigns": list(self.campaigns),
            "insertions": list(self.insertions),
            "contents": list(self.contents),
            "creatives": list(self.creatives),
        }

    def write(self, path: Path) -> Path:
        path.write_bytes(orjson.dumps(self.document()))
        return path


# -- events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where an ad ran: the ids every event of it carries."""

    campaign_id: str
    insertion_id: str
    creative_id: str
    content_id: str | None = None

    def event(
        self, event_id: str, event_type: str, ts: str | int, impression_id: str
    ) -> Event:
        event: Event = {
            "id": event_id,
            "type": event_type,
            "ts": ts,
            "impression_id": impression_id,
            "campaign_id": self.campaign_id,
            "insertion_id": self.insertion_id,
            "creative_id": self.creative_id,
        }
        if self.content_id is not None:
            event["content_id"] = self.content_id
        return event


def ndjson(events: Iterable[Event | str]) -> bytes:
    """NDJSON lines; a str item goes in as it stands (for broken lines)."""
    lines = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in events]
    return ("\n".join(lines) + "\n").encode("utf-8")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# -- in-process setup -------------------------------------------------------------


@dataclass
class Prepared:
    secrets: dict[str, str]  # key name -> secret
    reports: list[dict[str, Any]]


def prepare_db(
    db: Path,
    catalog: Mapping[str, Any],
    batches: Sequence[bytes] = (),
    keys: Sequence[tuple[str, str]] = (),
) -> Prepared:
    """Loads a catalog, ingests batches and creates keys (account id, key name)
    on a database no server holds, through the same admin verbs as the CLI."""
    admin = LocalAdmin(DuckDBStore(str(db)))
    try:
        admin.load_catalog(dict(catalog))
        reports = [admin.ingest_chunk(chunk_of_bytes(b)).as_json() for b in batches]
        secrets = {
            name: admin.create_key(account, name, None, None)[1]
            for account, name in keys
        }
        RUN.remember(*secrets.values())
    finally:
        admin.close()
    return Prepared(secrets, reports)


# -- answers ----------------------------------------------------------------------


def metrics(**nonzero: int | float) -> Row:
    """The metrics of SPEC section 4 in order: zeros but for the given ones."""
    unknown = set(nonzero) - set(CAMPAIGN_METRICS)
    assert not unknown, unknown
    return {name: nonzero.get(name, 0) for name in CAMPAIGN_METRICS}


def entity_metrics_of(campaign_row: Mapping[str, Any]) -> Row:
    """The entity family's metrics for the same numbers as a campaign row."""
    return {
        name: campaign_row[ENTITY_TO_CAMPAIGN_METRIC[name]] for name in ENTITY_METRICS
    }


def assert_metric_types(row: Mapping[str, Any], names: Sequence[str]) -> None:
    """Counters are JSON integers; rates and spent are numbers, never strings."""
    for name in names:
        value = row[name]
        if name in (*RATES, "spent"):
            assert type(value) in (int, float), (name, value)
        else:
            assert type(value) is int, (name, value)


def exact(value: int | float) -> Decimal:
    """A shown JSON number as the decimal it spells."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, code) of an error answer, checking the one error shape."""
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert list(body) == ["error"], body
    assert list(body["error"]) == ["code", "message"], body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return response.status_code, body["error"]["code"]


# -- generated traffic ------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """A big generated NDJSON file and the catalog it was made for."""

    events: Path
    catalog: dict[str, Any]


TRAFFIC_FROM, TRAFFIC_TO = date(2024, 6, 1), date(2024, 7, 31)
FLAG_SETS: list[tuple[str, ...]] = [
    ("by_day",),
    ("by_insertion",),
    ("by_content",),
    ("by_creative",),
    ("by_day", "by_insertion", "by_content", "by_creative"),
]


def generate_traffic(folder: Path) -> Traffic:
    events, catalog = folder / "events.ndjson", folder / "catalog.json"
    made = run_cli("generate", "--events", "400000", "--days", "10", "--end", "2024-06-30",
                   "--seed", "3", "-o", str(events), "--write-catalog", str(catalog))  # fmt: skip
    assert made.returncode == 0, made.stderr
    return Traffic(events, orjson.loads(catalog.read_bytes()))


def answers_of(store: Store) -> dict[str, Any]:
    """Every campaign answer of every account over the generated traffic's
    days, with each breakdown, and the entity family's answers."""
    answers = StatsAnswers(store)
    found: dict[str, Any] = {}
    for account in store.catalog_state().catalog.accounts.values():
        for flags in FLAG_SETS:
            query = StatsQuery(
                TRAFFIC_FROM,
                TRAFFIC_TO,
                by_day="by_day" in flags,
                by_insertion="by_insertion" in flags,
                by_content="by_content" in flags,
                by_creative="by_creative" in flags,
            )
            found[f"{account.id} campaigns {flags}"] = answers.campaigns(
                account, None, query
            )
        for kind in ENTITY_KINDS:
            query = StatsQuery(TRAFFIC_FROM, TRAFFIC_TO, by_day=True)
            found[f"{account.id} {kind}"] = answers.entities(account, kind, None, query)
    return found


def all_answers(db: Path) -> dict[str, Any]:
    """answers_of a database no process holds."""
    store = DuckDBStore(str(db))
    try:
        return answers_of(store)
    finally:
        store.close()


def total_impressions(found: dict[str, Any]) -> int:
    return sum(
        row["impressions"]
        for key, rows in found.items()
        if key.endswith("campaigns ('by_day',)")
        for row in rows
    )
