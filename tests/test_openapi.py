"""The OpenAPI document a real server publishes: every public endpoint, its
parameters, and row schemas that match the real answers field for field."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from e2e import (
    CAMPAIGN_METRICS,
    ENTITY_METRICS,
    RATES,
    CatalogBuilder,
    Placement,
    ServerProcess,
    ident,
    ndjson,
    prepare_db,
)

ACCOUNT, ADVERTISER, CAMPAIGN = ident("a4", 1), ident("ad4", 1), ident("c4", 1)
INSERTION, CREATIVE, CONTENT = ident("e4", 1), ident("f4", 1), ident("d4", 1)
DAY = {"date_from": "2024-05-01", "date_to": "2024-05-01"}

CAMPAIGN_PARAMETERS = [
    "api_key",
    "date_from",
    "date_to",
    "by_day",
    "by_insertion",
    "by_content",
    "by_creative",
    "format",
]
ENTITY_PARAMETERS = ["api_key", "date_from", "date_to", "by_day", "format"]
STATS_STATUSES = {"200", "400", "401", "404", "429"}


@dataclass
class World:
    http: httpx.Client
    secret: str
    document: dict[str, Any]

    def answer(self, path: str, **params: str) -> list[dict[str, Any]]:
        response = self.http.get(path, params={"api_key": self.secret, **params})
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows

    def schema(self, reference: dict[str, Any]) -> dict[str, Any]:
        name = reference["$ref"].removeprefix("#/components/schemas/")
        schema: dict[str, Any] = self.document["components"]["schemas"][name]
        return schema

    def row_schema(self, path: str) -> dict[str, Any]:
        answer = self.document["paths"][path]["get"]["responses"]["200"]
        schema = answer["content"]["application/json"]["schema"]
        assert schema["type"] == "array"
        return self.schema(schema["items"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    cat = CatalogBuilder()
    cat.account(ACCOUNT, "Account", "EUR", "UTC")
    cat.advertiser(ADVERTISER, ACCOUNT, "Advertiser")
    cat.campaign(CAMPAIGN, ACCOUNT, ADVERTISER, "Campaign")
    cat.insertion(INSERTION, CAMPAIGN, "Insertion", "cpm", "1.00")
    cat.creative(CREATIVE, ACCOUNT, "Creative")
    cat.content(CONTENT, "Page")
    where = Placement(CAMPAIGN, INSERTION, CREATIVE, CONTENT)
    events = [where.event("o1", "impression", "2024-05-01T10:00:00Z", "o")]
    db = tmp_path_factory.mktemp("t2-openapi") / "stats.duckdb"
    prepared = prepare_db(db, cat.document(), [ndjson(events)], [(ACCOUNT, "key")])
    server = ServerProcess(db).start()
    try:
        with server.client() as http:
            response = http.get("/api/openapi.json")
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            yield World(http, prepared.secrets["key"], response.json())
    finally:
        server.stop()


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def _query_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def _path_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


def test_document_lists_exactly_the_public_endpoints(world: World) -> None:
    operations = _operations(world.document)
    shapes = {
        (method, re.sub(r"\{[^}]+\}", "{id}", path)) for method, path in operations
    }

    assert shapes == {
        ("GET", "/api"),
        ("GET", "/api/campaigns"),
        ("GET", "/api/campaigns/{id}"),
        ("GET", "/api/stats/campaigns"),
        ("GET", "/api/stats/campaigns/{id}"),
        ("GET", "/api/stats/insertions"),
        ("GET", "/api/stats/insertions/{id}"),
        ("GET", "/api/stats/contents"),
        ("GET", "/api/stats/contents/{id}"),
        ("POST", "/ingest"),
    }
    assert ("GET", "/api/campaigns/{campaign_id}") in operations
    assert not [path for path in world.document["paths"] if "_admin" in path]


def test_every_statistics_endpoint_lists_its_query_parameters(world: World) -> None:
    operations = _operations(world.document)

    for (method, path), operation in operations.items():
        if path.startswith("/api/campaigns"):
            assert _query_parameters(operation) == CAMPAIGN_PARAMETERS, path
        elif path.startswith("/api/stats/"):
            assert _query_parameters(operation) == ENTITY_PARAMETERS, path
        else:
            assert _query_parameters(operation) == [], (method, path)
        identified = path.endswith("}")
        assert len(_path_parameters(operation)) == (1 if identified else 0), path


def test_statistics_endpoints_document_the_statuses_they_answer(world: World) -> None:
    """Only statuses the API really answers: a bad parameter is a 400 in the
    error shape, never a 422 validation error."""
    for (_method, path), operation in _operations(world.document).items():
        if path.startswith(("/api/campaigns", "/api/stats/")):
            assert set(operation["responses"]) == STATS_STATUSES, path


def test_errors_are_documented_with_the_error_shape(world: World) -> None:
    operation = world.document["paths"]["/api/campaigns/{campaign_id}"]["get"]

    for status in ("400", "401", "404", "429"):
        content = operation["responses"][status]["content"]["application/json"]
        error = world.schema(content["schema"])
        assert list(error["properties"]) == ["error"]
        detail = world.schema(error["properties"]["error"])
        assert list(detail["properties"]) == ["code", "message"]


def test_campaign_row_schema_matches_a_real_row(world: World) -> None:
    rows = world.answer(f"/api/campaigns/{CAMPAIGN}", by_day="true", by_insertion="true",
                        by_content="true", by_creative="true", **DAY)  # fmt: skip

    for path in ("/api/campaigns", "/api/campaigns/{campaign_id}"):
        schema = world.row_schema(path)
        assert list(schema["properties"]) == list(rows[0]), path
    _check_metric_types(world.row_schema("/api/campaigns"), CAMPAIGN_METRICS)


@pytest.mark.parametrize("kind", ["campaigns", "insertions", "contents"])
def test_entity_row_schema_matches_a_real_row(world: World, kind: str) -> None:
    rows = world.answer(f"/api/stats/{kind}", by_day="true", **DAY)

    assert len(rows) == 1
    for path in (f"/api/stats/{kind}", f"/api/stats/{kind}/{{entity_id}}"):
        schema = world.row_schema(path)
        assert list(schema["properties"]) == list(rows[0]), path
        assert list(rows[0])[3:] == list(ENTITY_METRICS)
    _check_metric_types(world.row_schema(f"/api/stats/{kind}"), ENTITY_METRICS)


def _check_metric_types(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        expected = "number" if name in (*RATES, "spent") else "integer"
        assert schema["properties"][name]["type"] == expected, name


def test_service_and_ingestion_answers_are_documented(world: World) -> None:
    service = world.document["paths"]["/api"]["get"]["responses"]["200"]
    ingest = world.document["paths"]["/ingest"]["post"]["responses"]

    info = world.schema(service["content"]["application/json"]["schema"])
    assert list(info["properties"]) == list(world.http.get("/api").json())
    assert set(ingest) == {"200", "401", "403", "413"}
    report = world.schema(ingest["200"]["content"]["application/json"]["schema"])
    assert list(report["properties"]) == ["accepted", "duplicates", "rejected"]
    line = world.schema(report["properties"]["rejected"]["items"])
    assert list(line["properties"]) == ["line", "reason"]


def test_documentation_page_needs_no_key(world: World) -> None:
    page = world.http.get("/api/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in page.text
