"""Crashes during ingestion (SPEC sections 5b and 9): a SIGKILL never leaves a
batch half-applied, and running the same ingestion again converges exactly to
the answers of an ingestion that was never interrupted.
"""

import os
import pty
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from adstats.admin.local import LocalAdmin
from adstats.ingest.reader import chunk_of_bytes
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    ADSTATS,
    ServerProcess,
    Traffic,
    all_answers,
    answers_of,
    clean_env,
    prepare_db,
    run_cli_parallel,
    total_impressions,
)

TOKEN = "t2-crash-ingestion-token-0123456789"
HTTP_BATCHES = 60
HTTP_BATCH_LINES = 500


# The traffic is about 110 MB: in chunks of 16 MiB, a kill after the first
# commit leaves most of it unapplied.
SMALL_CHUNKS = clean_env({"ADSTATS_INGEST_CHUNK_MB": "16"})


def _ingest_args(events: Path, db: Path) -> list[str]:
    return ["ingest", str(events), "--json", "--db", str(db)]


def _report(output: str) -> dict[str, Any]:
    (line,) = output.splitlines()
    report: dict[str, Any] = orjson.loads(line)
    return report


PROGRESS = re.compile(rb"(\d+(?:\.\d+)?)/\d+(?:\.\d+)? [kMG]?B")


def _killed_after_first_commit(events: Path, db: Path) -> int:
    """Runs the ingestion on a terminal, so that it draws its progress bar, and
    SIGKILLs it as soon as the bar moves: the bar advances only once a chunk
    is committed. Returns the exit status."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([ADSTATS, *_ingest_args(events, db)], env=SMALL_CHUNKS,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=terminal)  # fmt: skip
    os.close(terminal)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([controller], [], [], 0.05)
            try:
                shown = os.read(controller, 65536) if ready else b""
            except OSError:  # the terminal closed: the command ended
                break
            if any(float(done) > 0 for done in PROGRESS.findall(shown)):
                process.send_signal(signal.SIGKILL)
                break
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)


def test_killed_cli_ingestion_rerun_equals_one_clean_ingestion(
    generated_traffic: Traffic, tmp_path: Path
) -> None:
    crashed, clean = tmp_path / "crashed.duckdb", tmp_path / "clean.duckdb"
    for db in (crashed, clean):
        prepare_db(db, generated_traffic.catalog)

    killed = _killed_after_first_commit(generated_traffic.events, crashed)

    assert killed == -signal.SIGKILL, "the ingestion ended before it could be killed"
    rerun, once = run_cli_parallel(
        [
            _ingest_args(generated_traffic.events, crashed),
            _ingest_args(generated_traffic.events, clean),
        ]
    )

    assert rerun.returncode == 0, rerun.stderr
    assert once.returncode == 0, once.stderr
    again, reference = _report(rerun.stdout), _report(once.stdout)
    assert 0 < again["accepted"] < reference["accepted"]
    assert again["accepted"] + again["duplicates"] == (
        reference["accepted"] + reference["duplicates"]
    )
    assert again["rejected"] == reference["rejected"]
    expected = all_answers(clean)
    assert total_impressions(expected) > 0
    assert all_answers(crashed) == expected


# -- the server, killed while batches arrive over HTTP ------------------------------


@dataclass
class Sender:
    """Posts batches one after another until one fails to get an answer."""

    base_url: str
    batches: Sequence[bytes]
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    failed_at: int | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.base_url, timeout=60.0) as http:
            for index, batch in enumerate(self.batches):
                try:
                    response = http.post("/ingest", content=batch, headers=headers)
                except httpx.TransportError:
                    self.failed_at = index
                    return
                if response.status_code != 200:
                    self.failed_at = index
                    return
                self.acknowledged.append(response.json())


def _batches(events: Path) -> list[bytes]:
    batches: list[bytes] = []
    lines: list[bytes] = []
    with events.open("rb") as source:
        for line in source:
            lines.append(line)
            if len(lines) == HTTP_BATCH_LINES:
                batches.append(b"".join(lines))
                lines = []
                if len(batches) == HTTP_BATCHES:
                    break
    return batches


@dataclass
class Reference:
    """Answers of one uninterrupted ingestion, after the first k batches, after
    k + 1, and after all of them."""

    after_k: dict[str, Any]
    after_k_plus_one: dict[str, Any]
    after_all: dict[str, Any]
    reports: list[dict[str, Any]]


def _reference(
    db: Path, catalog: dict[str, Any], batches: Sequence[bytes], k: int
) -> Reference:
    prepare_db(db, catalog)
    admin = LocalAdmin(DuckDBStore(str(db)))
    try:
        snapshots = []
        reports = []
        for index, batch in enumerate(batches):
            if index in (k, k + 1):
                snapshots.append(answers_of(admin.store))
            reports.append(admin.ingest_chunk(chunk_of_bytes(batch)).as_json())
        while len(snapshots) < 2:
            snapshots.append(answers_of(admin.store))
        return Reference(snapshots[0], snapshots[1], answers_of(admin.store), reports)
    finally:
        admin.close()


def test_killed_server_keeps_every_acknowledged_batch_exactly_once(
    generated_traffic: Traffic, tmp_path: Path
) -> None:
    batches = _batches(generated_traffic.events)
    assert len(batches) == HTTP_BATCHES
    db = tmp_path / "served.duckdb"
    prepare_db(db, generated_traffic.catalog)
    server = ServerProcess(db, {"ADSTATS_INGEST_TOKEN": TOKEN}).start()
    sender = Sender(server.base_url, batches)
    thread = threading.Thread(target=sender.run)
    try:
        thread.start()
        while len(sender.acknowledged) < HTTP_BATCHES // 3 and thread.is_alive():
            time.sleep(0.005)
        server.kill()
        thread.join(timeout=60)
    finally:
        server.stop()
    k = len(sender.acknowledged)
    assert sender.failed_at == k, "the server was not killed during the ingestion"
    assert k < HTTP_BATCHES - 1

    reference = _reference(
        tmp_path / "reference.duckdb", generated_traffic.catalog, batches, k
    )
    assert sender.acknowledged == reference.reports[:k]
    after_crash = all_answers(db)
    assert after_crash in (reference.after_k, reference.after_k_plus_one)
    assert total_impressions(reference.after_k) > 0

    restarted = ServerProcess(db, {"ADSTATS_INGEST_TOKEN": TOKEN}).start()
    retry = Sender(restarted.base_url, batches)
    try:
        retry.run()
    finally:
        restarted.stop()

    assert retry.failed_at is None
    assert [r["accepted"] for r in retry.acknowledged[:k]] == [0] * k
    assert retry.acknowledged[k + 1 :] == reference.reports[k + 1 :]
    assert retry.acknowledged[k]["accepted"] in (0, reference.reports[k]["accepted"])
    assert all_answers(db) == reference.after_all
