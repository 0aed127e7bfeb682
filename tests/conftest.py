"""Fixtures shared by the test suite."""

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from e2e import (
    RUN,
    ServerFactory,
    ServerProcess,
    Traffic,
    generate_traffic,
    log_leaks,
)


@pytest.fixture(scope="session", autouse=True)
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for the logs of every server the run starts; at the end of
    the session, none of them may hold a secret the run handed out (API keys,
    ingestion and admin tokens) nor anything shaped like an API key.

    Session-scoped fixtures are torn down last, after every module's servers
    have stopped, so this sees every log line whatever tests ran.
    """
    folder = tmp_path_factory.mktemp("server-logs")
    RUN.log_folder = folder
    yield folder
    RUN.log_folder = None
    leaks = log_leaks(folder, RUN.secrets)
    assert not leaks, f"server logs in {folder} hold secrets: {leaks}"


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """Starts `adstats serve` processes and stops whatever is left at the end."""
    started: list[ServerProcess] = []

    def start(db: Path, env: Mapping[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(db, dict(env or {}))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def generated_traffic(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """About 400,000 events over ten days of June 2024, generated once."""
    return generate_traffic(tmp_path_factory.mktemp("t2-traffic"))
