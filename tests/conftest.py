"""Fixtures shared by the test suite."""

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from e2e import ServerFactory, ServerProcess, Traffic, generate_traffic


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
