"""Errors of the HTTP API (SPEC section 6) and what a key may see (section 7),
against a real `adstats serve`.

Every answer of this module goes through a hook that fails the test if it
carries any API key, in its body or its headers.
"""

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adstats.keys.secrets import new_key
from adstats.storage.duckdb.store import DuckDBStore
from e2e import (
    CatalogBuilder,
    Placement,
    Row,
    ServerFactory,
    ServerProcess,
    error_of,
    ident,
    metrics,
    ndjson,
    prepare_db,
    run_cli,
)

ACC_A, ACC_B = ident("a1", 1), ident("a1", 2)
ADV_A, ADV_B = ident("ad1", 1), ident("ad1", 2)
CA, CA_IDLE, CB = ident("c1", 1), ident("c1", 2), ident("c1", 3)
IA, IB = ident("e1", 1), ident("e1", 2)
T_SHARED, T_B_ONLY, T_UNUSED = ident("d1", 1), ident("d1", 2), ident("d1", 3)
KA, KB = ident("f1", 1), ident("f1", 2)
UNKNOWN = ident("0", 987654)
DAY = {"date_from": "2024-01-10", "date_to": "2024-01-10"}


def build_catalog() -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACC_A, "Account A", "EUR", "UTC")
    cat.account(ACC_B, "Account B", "JPY", "Asia/Tokyo")
    cat.advertiser(ADV_A, ACC_A, "Advertiser A")
    cat.advertiser(ADV_B, ACC_B, "Advertiser B")
    cat.campaign(CA, ACC_A, ADV_A, "Campaign A")
    cat.campaign(CA_IDLE, ACC_A, ADV_A, "Campaign A idle")
    cat.campaign(CB, ACC_B, ADV_B, "Campaign B")
    cat.insertion(IA, CA, "Insertion A", "cpc", "2.00")
    cat.insertion(IB, CB, "Insertion B", "cpc", "100")
    cat.content(T_SHARED, "Shared page")
    cat.content(T_B_ONLY, "Page B")
    cat.content(T_UNUSED, "Unused page")
    cat.creative(KA, ACC_A, "Creative A")
    cat.creative(KB, ACC_B, "Creative B")
    return cat


def build_events() -> list[dict[str, object]]:
    a = Placement(CA, IA, KA, T_SHARED)
    b_shared = Placement(CB, IB, KB, T_SHARED)
    b_only = Placement(CB, IB, KB, T_B_ONLY)
    return [
        a.event("a1", "impression", "2024-01-10T10:00:00Z", "va"),
        a.event("a2", "click", "2024-01-10T10:00:01Z", "va"),
        # 2024-01-10 in Tokyo (UTC+9)
        b_shared.event("b1", "impression", "2024-01-10T01:00:00Z", "vb1"),
        b_shared.event("b2", "click", "2024-01-10T01:00:01Z", "vb1"),
        b_shared.event("b3", "click", "2024-01-10T01:00:02Z", "vb1"),
        b_only.event("b4", "impression", "2024-01-10T02:00:00Z", "vb2"),
        b_only.event("b5", "vote", "2024-01-10T02:00:01Z", "vb2"),
    ]


# By hand: A has one impression and one click (cpc 2.00 EUR); B has two
# impressions, two clicks (cpc 100 JPY each) and a vote.
A_TOTAL = metrics(impressions=1, clicks=1, billables=1, spent=2.0)
B_TOTAL = metrics(impressions=2, clicks=2, votes=1, billables=2, spent=200)


class SecretWatch:
    """Fails any answer that carries one of the secrets it knows."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.seen = 0

    def check(self, response: httpx.Response) -> None:
        response.read()
        self.seen += 1
        shown = response.text + json.dumps(list(response.headers.multi_items()))
        if any(secret in shown for secret in self.secrets):
            request = response.request
            pytest.fail(
                f"the answer to {request.method} {request.url.path} carries a key"
            )


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    db: Path
    keys: dict[str, str]  # key name -> secret
    watch: SecretWatch

    def get(self, path: str, key: str | None = "a", **params: str) -> httpx.Response:
        query = params if key is None else {"api_key": self.keys[key], **params}
        return self.http.get(path, params=query)

    def rows(self, path: str, key: str = "a", **params: str) -> list[Row]:
        response = self.get(path, key, **params)
        assert response.status_code == 200, response.text
        rows: list[Row] = response.json()
        return rows


def _save_aged_key(db: Path, name: str, age_days: int, expires_in_days: int) -> str:
    """A key created age_days ago: only possible while no server holds the db."""
    record, secret = new_key(ACC_A, name, None, expires_in_days)
    aged = dataclasses.replace(
        record, created_at=record.created_at - timedelta(days=age_days)
    )
    store = DuckDBStore(str(db))
    try:
        store.save_api_key(aged)
    finally:
        store.close()
    return secret


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("t2-errors") / "stats.duckdb"
    prepared = prepare_db(
        db,
        build_catalog().document(),
        [ndjson(build_events())],
        [(ACC_A, "a"), (ACC_B, "b"), (ACC_A, "to revoke")],
    )
    assert prepared.reports == [{"accepted": 7, "duplicates": 0, "rejected": []}]
    keys = dict(prepared.secrets)
    keys["expired"] = _save_aged_key(db, "expired", age_days=2, expires_in_days=1)
    keys["aged but valid"] = _save_aged_key(db, "aged", age_days=2, expires_in_days=3)
    watch = SecretWatch()
    watch.secrets.update(keys.values())
    server = ServerProcess(db).start()
    try:
        with server.client(event_hooks={"response": [watch.check]}) as http:
            yield World(server, http, db, keys, watch)
    finally:
        server.stop()


STATS_PATHS = [
    "/api/campaigns",
    f"/api/campaigns/{CA}",
    "/api/stats/campaigns",
    f"/api/stats/campaigns/{CA}",
    "/api/stats/insertions",
    f"/api/stats/insertions/{IA}",
    "/api/stats/contents",
    f"/api/stats/contents/{T_SHARED}",
]


# -- 400 --------------------------------------------------------------------------

BAD_PARAMETERS = [
    pytest.param({"date_from": "2024-1-10", "date_to": "2024-01-10"}, "date_from",
                 id="malformed date_from"),
    pytest.param({"date_from": "2024-01-10", "date_to": "10/01/2024"}, "date_to",
                 id="malformed date_to"),
    pytest.param({"date_from": "20240110"}, "date_from", id="date without dashes"),
    pytest.param({"date_from": "2024-01-10T00:00:00"}, "date_from", id="date and time"),
    pytest.param({"date_from": "2023-02-30", "date_to": "2023-03-01"}, "date_from",
                 id="February 30"),
    pytest.param({"date_from": "2023-02-01", "date_to": "2023-02-29"}, "date_to",
                 id="February 29 of a common year"),
    pytest.param({"date_from": "2024-13-01", "date_to": "2024-13-02"}, "date_from",
                 id="month 13"),
    pytest.param({"date_from": "2024-01-11", "date_to": "2024-01-10"}, "date_from",
                 id="date_from after date_to"),
    pytest.param({"date_from": "2014-01-01", "date_to": "2024-01-09"}, "3660",
                 id="3661 days"),
    pytest.param({"by_day": "yes", **DAY}, "by_day", id="by_day yes"),
    pytest.param({"by_day": "2", **DAY}, "by_day", id="by_day 2"),
    pytest.param({"by_day": "", **DAY}, "by_day", id="by_day empty"),
    pytest.param({"format": "xml", **DAY}, "format", id="format xml"),
    pytest.param({"colour": "blue", **DAY}, "colour", id="unknown parameter"),
    pytest.param({"date": "2024-01-10"}, "date", id="unknown parameter date"),
]  # fmt: skip


@pytest.mark.parametrize("path", STATS_PATHS)
@pytest.mark.parametrize(("params", "named"), BAD_PARAMETERS)
def test_bad_parameters_are_400_naming_what_to_change(
    world: World, path: str, params: dict[str, str], named: str
) -> None:
    response = world.get(path, **params)

    assert error_of(response) == (400, "bad_request")
    assert named in response.json()["error"]["message"]


def test_3660_days_is_the_longest_range(world: World) -> None:
    last = date(2024, 1, 10)
    first = last - timedelta(days=3659)
    longest = {"date_from": first.isoformat(), "date_to": last.isoformat()}
    too_long = {
        "date_from": (first - timedelta(days=1)).isoformat(),
        "date_to": "2024-01-10",
    }

    assert first.isoformat() == "2014-01-03"
    assert world.rows(f"/api/campaigns/{CA}", **longest) == [
        {"campaign_id": CA, "campaign_name": "Campaign A", "advertiser_id": ADV_A,
         "advertiser_name": "Advertiser A", **A_TOTAL}
    ]  # fmt: skip
    assert len(world.rows(f"/api/campaigns/{CA}", by_day="true", **longest)) == 3660
    assert error_of(world.get(f"/api/campaigns/{CA}", **too_long)) == (
        400,
        "bad_request",
    )


@pytest.mark.parametrize("flag", ["by_insertion", "by_content", "by_creative"])
@pytest.mark.parametrize("path", [p for p in STATS_PATHS if "/stats/" in p])
def test_campaign_breakdowns_are_unknown_to_the_entity_family(
    world: World, path: str, flag: str
) -> None:
    response = world.get(path, **{flag: "true"}, **DAY)

    assert error_of(response) == (400, "bad_request")
    assert flag in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/campaigns/xyz",
        f"/api/campaigns/{CA.upper()}",
        f"/api/campaigns/{CA[:-1]}",
        f"/api/campaigns/{CA}0",
        "/api/stats/campaigns/not-an-id",
        f"/api/stats/insertions/{IA[:-1]}g",
        f"/api/stats/contents/{T_SHARED.upper()}",
    ],
)
def test_malformed_ids_are_400(world: World, path: str) -> None:
    response = world.get(path, **DAY)

    assert error_of(response) == (400, "bad_request")
    assert "_id" in response.json()["error"]["message"]


# -- 401 --------------------------------------------------------------------------

FORGED = f"ads_{'0' * 24}_{'A' * 43}"


@pytest.mark.parametrize("path", STATS_PATHS)
def test_no_key_is_401(world: World, path: str) -> None:
    assert error_of(world.get(path, None, **DAY)) == (401, "unauthorized")
    assert error_of(world.get(path, None, api_key="", **DAY)) == (401, "unauthorized")


@pytest.mark.parametrize("path", STATS_PATHS)
@pytest.mark.parametrize(
    "secret", [FORGED, "hello", "ads_"], ids=["forged", "word", "prefix"]
)
def test_unknown_key_is_401_in_query_header_or_bearer(
    world: World, path: str, secret: str
) -> None:
    if len(secret) > 8:
        world.watch.secrets.add(secret)
    answers = [
        world.http.get(path, params={"api_key": secret, **DAY}),
        world.http.get(path, params=DAY, headers={"X-Api-Key": secret}),
        world.http.get(path, params=DAY, headers={"Authorization": f"Bearer {secret}"}),
    ]

    assert [error_of(a) for a in answers] == [(401, "unauthorized")] * 3


def test_a_key_in_another_authorization_scheme_is_no_key(world: World) -> None:
    response = world.http.get(
        f"/api/campaigns/{CA}",
        params=DAY,
        headers={"Authorization": f"Basic {world.keys['a']}"},
    )

    assert error_of(response) == (401, "unauthorized")


def test_a_key_of_another_secret_with_the_same_id_is_401(world: World) -> None:
    real = world.keys["a"]
    tampered = real[:-1] + ("A" if real[-1] != "A" else "B")
    world.watch.secrets.add(tampered)

    response = world.get(f"/api/campaigns/{CA}", None, api_key=tampered, **DAY)

    assert error_of(response) == (401, "unauthorized")


@pytest.mark.parametrize("path", STATS_PATHS)
def test_expired_key_is_401(world: World, path: str) -> None:
    response = world.get(path, "expired", **DAY)

    assert error_of(response) == (401, "unauthorized")
    assert "expired" in response.json()["error"]["message"]


def test_a_key_within_its_days_still_works(world: World) -> None:
    assert world.rows(f"/api/campaigns/{CA}", "aged but valid", **DAY) == [
        world.rows(f"/api/campaigns/{CA}", "a", **DAY)[0]
    ]


def _listed_keys(world: World, account: str) -> list[Row]:
    listed = run_cli("keys", "list", "--account", account, "--db", str(world.db))
    assert listed.returncode == 0, listed.stderr
    for secret in world.keys.values():
        assert secret not in listed.stdout + listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_key_revoked_while_serving_fails_from_the_next_request(world: World) -> None:
    assert world.get(f"/api/campaigns/{CA}", "to revoke", **DAY).status_code == 200
    before = {k["name"]: k for k in _listed_keys(world, ACC_A)}
    key_id = before["to revoke"]["key_id"]
    assert before["to revoke"]["revoked_at"] is None

    revoked = run_cli("keys", "revoke", key_id, "--db", str(world.db))

    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == ""
    for path in STATS_PATHS:
        response = world.get(path, "to revoke", **DAY)
        assert error_of(response) == (401, "unauthorized")
        assert "revoked" in response.json()["error"]["message"]
    after = {k["name"]: k for k in _listed_keys(world, ACC_A)}
    assert after["to revoke"]["revoked_at"] is not None
    assert world.get(f"/api/campaigns/{CA}", "a", **DAY).status_code == 200


def test_key_created_with_expiry_while_serving(world: World) -> None:
    created = run_cli("keys", "create", "--account", ACC_A, "--name", "one day",
                      "--expires-in-days", "1", "--db", str(world.db))  # fmt: skip
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    world.keys["one day"] = secret
    world.watch.secrets.add(secret)

    assert world.rows(f"/api/campaigns/{CA}", "one day", **DAY) == [
        world.rows(f"/api/campaigns/{CA}", "a", **DAY)[0]
    ]
    listed = [k for k in _listed_keys(world, ACC_A) if k["name"] == "one day"]
    assert len(listed) == 1
    key = listed[0]
    assert key["expires_in_days"] == 1
    assert key["revoked_at"] is None
    created_at = datetime.fromisoformat(key["created_at"])
    assert datetime.fromisoformat(key["expires_at"]) == created_at + timedelta(days=1)
    assert abs(datetime.now(created_at.tzinfo) - created_at) < timedelta(minutes=5)
    assert re.fullmatch(r"ads_[0-9a-f]{24}_[A-Za-z0-9_-]{43}", secret)
    assert key["key_id"] in secret


def test_key_listing_never_shows_a_secret_or_its_hash(world: World) -> None:
    assert world.get(f"/api/campaigns/{CB}", "b", **DAY).status_code == 200
    listed = _listed_keys(world, ACC_A)

    assert {k["name"] for k in listed} >= {"a", "to revoke", "expired", "aged"}
    for key in listed:
        assert set(key) == {"key_id", "account_id", "name", "description", "created_at",
                            "expires_in_days", "expires_at", "revoked_at",
                            "last_used_at"}  # fmt: skip
        assert key["account_id"] == ACC_A
    (b,) = _listed_keys(world, ACC_B)
    assert b["name"] == "b"
    assert b["last_used_at"] is not None
    used = datetime.fromisoformat(b["last_used_at"])
    assert datetime.fromisoformat(b["created_at"]) <= used <= datetime.now(used.tzinfo)


def test_over_the_rate_of_a_key_is_429_with_retry_after(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    db = tmp_path / "limited.duckdb"
    keys = prepare_db(
        db, build_catalog().document(), [], [(ACC_A, "a"), (ACC_B, "b")]
    ).secrets
    watch = SecretWatch()
    watch.secrets.update(keys.values())
    server = server_factory(db, {"ADSTATS_RATE_LIMIT": "1", "ADSTATS_RATE_BURST": "3"})
    a_params, b_params = {"api_key": keys["a"], **DAY}, {"api_key": keys["b"], **DAY}

    with server.client(event_hooks={"response": [watch.check]}) as http:
        # One request a second refills the bucket: ten at once must overflow it.
        burst = [http.get(f"/api/campaigns/{CA}", params=a_params) for _ in range(10)]
        other_key = http.get(f"/api/campaigns/{CB}", params=b_params)
        service = [http.get("/api") for _ in range(10)]
        refused = next((r for r in burst if r.status_code != 200), burst[-1])
        wait = refused.headers.get("retry-after", "")
        time.sleep(int(wait) if wait.isdigit() else 0)
        later = http.get("/api/stats/campaigns", params=a_params)

    assert [r.status_code for r in burst[:3]] == [200, 200, 200]
    assert error_of(refused) == (429, "too_many_requests")
    assert wait.isdigit() and int(wait) >= 1
    assert other_key.status_code == 200
    assert [r.status_code for r in service] == [200] * 10
    assert later.status_code == 200


# -- 404 --------------------------------------------------------------------------


def _shape_of(response: httpx.Response, shown_id: str) -> tuple[int, str, str]:
    status, code = error_of(response)
    return status, code, response.json()["error"]["message"].replace(shown_id, "ID")


@pytest.mark.parametrize(
    ("family", "theirs"),
    [
        ("/api/campaigns", CB),
        ("/api/stats/campaigns", CB),
        ("/api/stats/insertions", IB),
    ],
)
def test_unknown_and_other_accounts_ids_are_the_same_404(
    world: World, family: str, theirs: str
) -> None:
    unknown = world.get(f"{family}/{UNKNOWN}", **DAY)
    other = world.get(f"{family}/{theirs}", **DAY)

    assert _shape_of(unknown, UNKNOWN)[:2] == (404, "not_found")
    assert _shape_of(other, theirs) == _shape_of(unknown, UNKNOWN)
    assert "Campaign B" not in other.text and "Insertion B" not in other.text


def test_unknown_content_is_404(world: World) -> None:
    assert error_of(world.get(f"/api/stats/contents/{UNKNOWN}", **DAY)) == (
        404,
        "not_found",
    )


def test_unknown_path_is_404_in_the_error_shape(world: World) -> None:
    assert error_of(world.get("/api/nothing-here", **DAY))[0] == 404


# -- what a key sees --------------------------------------------------------------


def _all_ids(rows: list[Row]) -> set[str]:
    return {v for row in rows for k, v in row.items() if k.endswith("_id") and v}


def test_a_key_sees_only_its_account_on_every_endpoint(world: World) -> None:
    answers = {
        path: world.rows(path, **DAY, **({"by_day": "true"} if "stats" in path else {}))
        for path in STATS_PATHS
    }
    answers["breakdowns"] = world.rows("/api/campaigns", by_insertion="true",
                                       by_content="true", by_creative="true", **DAY)  # fmt: skip

    theirs = {ACC_B, ADV_B, CB, IB, KB, T_B_ONLY}
    for path, rows in answers.items():
        assert rows, path
        assert not _all_ids(rows) & theirs, path
    assert answers["/api/campaigns"] == [
        {"campaign_id": CA, "campaign_name": "Campaign A", "advertiser_id": ADV_A,
         "advertiser_name": "Advertiser A", **A_TOTAL}
    ]  # fmt: skip
    assert answers["breakdowns"][0]["impressions"] == 1
    for path in ("/api/stats/contents", f"/api/stats/contents/{T_SHARED}"):
        assert [(r["content_id"], r["impressions"], r["clicks"], r["spent"])
                for r in answers[path]] == [(T_SHARED, 1, 1, 2.0)]  # fmt: skip


def test_each_account_sees_its_own_share_of_a_shared_content(world: World) -> None:
    path = f"/api/stats/contents/{T_SHARED}"

    a = world.rows(path, "a", **DAY)
    b = world.rows(path, "b", **DAY)

    assert [(r["impressions"], r["clicks"], r["billables"], r["spent"]) for r in a] == [
        (1, 1, 1, 2.0)
    ]
    assert [(r["impressions"], r["clicks"], r["billables"], r["spent"]) for r in b] == [
        (1, 2, 2, 200)
    ]
    assert world.rows("/api/stats/contents", "b", **DAY) == [
        *b,
        {"content_id": T_B_ONLY, "content_name": "Page B", "impressions": 1,
         "visible_impressions": 0, "engagements": 0, "votes": 1, "clicks": 0,
         "video_impressions": 0, "video_visible_impressions": 0, "video_starts": 0,
         "video_first_quartiles": 0, "video_midpoints": 0, "video_third_quartiles": 0,
         "video_completes": 0, "billables": 0, "spent": 0},
    ]  # fmt: skip


def test_another_accounts_content_shows_zeros_to_a_key(world: World) -> None:
    rows = world.rows(f"/api/stats/contents/{T_B_ONLY}", "a", **DAY)

    assert [(r["content_id"], r["impressions"], r["votes"]) for r in rows] == [
        (T_B_ONLY, 0, 0)
    ]


def test_account_b_sees_its_numbers_in_its_currency(world: World) -> None:
    rows = world.rows("/api/campaigns", "b", **DAY)

    assert rows == [
        {"campaign_id": CB, "campaign_name": "Campaign B", "advertiser_id": ADV_B,
         "advertiser_name": "Advertiser B", **B_TOTAL}
    ]  # fmt: skip
    assert type(rows[0]["spent"]) is int


# -- secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (f"/api/campaigns/{CA}", "format"),
        (f"/api/campaigns/{CA}", "by_day"),
        (f"/api/stats/insertions/{IA}", "format"),
        (f"/api/campaigns/{CA}/", "api_key"),
        ("/api/stats/contents/", "api_key"),
    ],
)
def test_no_answer_repeats_a_key_given_in_the_wrong_place(
    world: World, path: str, where: str
) -> None:
    """The response hook fails the test if the answer carries the key."""
    secret = world.keys["a"]
    params = {"api_key": secret, **DAY} | {where: secret}

    response = world.http.get(path, params=params)

    if where == "api_key":  # a trailing slash: no such path
        assert error_of(response) == (404, "not_found")
    else:
        assert error_of(response) == (400, "bad_request")


def test_no_log_line_contains_a_key(world: World) -> None:
    for secret in world.keys.values():
        world.get(f"/api/campaigns/{CA}", None, api_key=secret, colour="x")
        world.http.get("/api/campaigns", headers={"X-Api-Key": secret})
    log = world.server.log_text()

    assert world.watch.seen > 0
    for secret in world.watch.secrets:
        assert secret not in log
