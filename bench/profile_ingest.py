"""Where ingestion's time goes: wall and CPU per event for each step.

    .venv/bin/python bench/profile_ingest.py EVENTS.ndjson CATALOG.json

Ingests the file into a fresh database in a temporary folder, one chunk after
the other (no overlap between checking and applying, so that each step's CPU
is its own), and prints a table of the steps of checking (ingest/parse.py)
and of applying (storage/duckdb/writer.py). CPU counts every thread of the
process, DuckDB's included; CPU above wall means a step ran on both cores.
Make the files with `adstats generate --events N --days 365 -o EVENTS.ndjson
--write-catalog CATALOG.json`.
"""

import functools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from adstats.admin.local import LocalAdmin
from adstats.ingest import parse
from adstats.ingest.pipeline import Ingestor
from adstats.ingest.reader import chunks_of
from adstats.storage.duckdb import writer
from adstats.storage.duckdb.store import DuckDBStore

CHECK_STEPS = ("_split_lines", "_strict_json_rejections", "_check")
APPLY_STEPS = (
    "_keep_new_events",
    "_keep_counted_events",
    "_mark_billable",
    "_append_rollups",
)

wall: defaultdict[str, float] = defaultdict(float)
cpu: defaultdict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, used = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            wall[label] += time.perf_counter() - started
            cpu[label] += time.process_time() - used

    setattr(owner, name, wrapper)


def main() -> None:
    events, catalog = Path(sys.argv[1]), Path(sys.argv[2])
    for name in CHECK_STEPS:
        timed(parse.EventParser, name, f"check {name.strip('_')}")
    timed(parse.EventParser, "parse", "check (all)")
    for name in APPLY_STEPS:
        timed(writer, name, f"apply {name.strip('_')}")
    timed(writer, "apply_events", "apply (all)")

    with tempfile.TemporaryDirectory(prefix="adstats-profile-") as folder:
        store = DuckDBStore(str(Path(folder) / "profile.duckdb"))
        admin = LocalAdmin(store, Ingestor(store))
        admin.load_catalog(orjson.loads(catalog.read_bytes()))
        started, used = time.perf_counter(), time.process_time()
        with events.open("rb") as stream:
            accepted = sum(admin.ingest_chunk(c).accepted for c in chunks_of(stream))
        wall["total"] = time.perf_counter() - started
        cpu["total"] = time.process_time() - used
        admin.close()

    print(f"{accepted:,} events accepted, one chunk at a time\n")
    print("| step | wall µs/event | CPU µs/event |\n|---|---|---|")
    for label in sorted(wall, key=lambda k: (k == "total", k)):
        per_wall = wall[label] / accepted * 1e6
        per_cpu = cpu[label] / accepted * 1e6
        print(f"| {label} | {per_wall:.2f} | {per_cpu:.2f} |")


if __name__ == "__main__":
    main()
