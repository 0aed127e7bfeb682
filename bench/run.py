"""The adstats benchmark: ingestion speed and query latency on loopback.

    ./dev bench                      # 2.1 M events over 90 days (about 2 min)
    ./dev bench --events 10000000    # a larger scale

It generates traffic for the demo catalog with `adstats generate`, ingests it
with `adstats ingest` into a fresh database, starts `adstats serve` on
127.0.0.1, and times HTTP requests with one keep-alive client. Results print
as a Markdown table and are written to bench/results/<scale>.json.
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from adstats.generate.demo_catalog import demo_catalog

RESULTS = Path(__file__).parent / "results"
ADSTATS = str(Path(sys.executable).with_name("adstats"))


def main() -> None:
    options = _options()
    with tempfile.TemporaryDirectory(prefix="adstats-bench-") as folder:
        results = _run(Path(folder), options)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{options.events}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    _print_table(results)
    print(f"\nwritten to {out}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--heavy-requests", type=int, default=20)
    return parser.parse_args()


def _run(folder: Path, options: argparse.Namespace) -> dict[str, Any]:
    db, catalog, traffic = (
        folder / "bench.duckdb",
        folder / "catalog.json",
        folder / "e.ndjson",
    )
    end = date.today() - timedelta(days=1)
    document = demo_catalog()
    catalog.write_text(json.dumps(document))
    _adstats("generate", "--events", str(options.events), "--days", str(options.days),
             "--end", str(end), "--seed", "1", "-o", str(traffic))  # fmt: skip
    _adstats("catalog", "load", str(catalog), "--db", str(db))

    started = time.perf_counter()
    report = _adstats("ingest", str(traffic), "--db", str(db), "--json")
    ingest_seconds = time.perf_counter() - started
    accepted = json.loads(report.splitlines()[-1])["accepted"]

    account = str(document["accounts"][0]["id"])
    key = _adstats(
        "keys", "create", "--account", account, "--name", "bench", "--db", str(db)
    )
    campaign = str(document["campaigns"][0]["id"])
    latencies = _query_latencies(db, key.strip(), campaign, end, options)
    return {
        "machine": _machine(),
        "events_in_file": _line_count(traffic),
        "events_accepted": accepted,
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_events_per_second": round(accepted / ingest_seconds),
        "database_mib": round(_size(db) / 2**20, 1),
        **latencies,
    }


def _query_latencies(
    db: Path, key: str, campaign: str, end: date, options: argparse.Namespace
) -> dict[str, Any]:
    port = _free_port()
    server = subprocess.Popen(
        [ADSTATS, "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "ADSTATS_RATE_LIMIT": "0",
        },  # measure the service, not the limit
    )
    try:
        base = f"http://127.0.0.1:{port}/api"
        with httpx.Client(headers={"X-Api-Key": key}, timeout=60) as client:
            _wait_ready(client, base)
            typical = {"date_from": str(end - timedelta(days=89)), "date_to": str(end),
                       "by_day": "true"}  # fmt: skip
            heavy = {"date_from": str(end - timedelta(days=364)), "date_to": str(end),
                     "by_day": "true", "by_insertion": "true", "by_content": "true",
                     "by_creative": "true"}  # fmt: skip
            url = f"{base}/campaigns/{campaign}"
            typical_ms = _timed(client, url, typical, options.requests)
            heavy_ms = _timed(client, url, heavy, options.heavy_requests)
            rows = len(client.get(url, params=heavy).json())
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "typical_query": "one campaign, 90 days, by_day",
        "typical_p50_ms": _percentile(typical_ms, 50),
        "typical_p99_ms": _percentile(typical_ms, 99),
        "heavy_query": "one campaign, 365 days, every breakdown",
        "heavy_rows": rows,
        "heavy_p50_ms": _percentile(heavy_ms, 50),
        "heavy_p99_ms": _percentile(heavy_ms, 99),
    }


def _timed(
    client: httpx.Client, url: str, params: dict[str, str], count: int
) -> list[float]:
    for _ in range(5):  # warm-up: caches and the first plans
        client.get(url, params=params).raise_for_status()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url, params=params).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _percentile(values: list[float], percent: int) -> float:
    if len(values) < 2:
        return round(values[0], 2)
    return round(
        statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 2
    )


def _adstats(*args: str) -> str:
    done = subprocess.run([ADSTATS, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"adstats {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def _wait_ready(client: httpx.Client, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get(base).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit("the server did not start within 60 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(
            block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")
        )


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _print_table(results: dict[str, Any]) -> None:
    print("| measure | value |\n|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
