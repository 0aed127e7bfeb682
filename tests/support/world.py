"""A real adstats, in process, on a DuckDB file: catalog builders, event
builders and a World that ingests and answers like the service does."""

import gzip
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from adstats.admin.local import LocalAdmin
from adstats.domain.catalog import Account
from adstats.ingest.pipeline import Ingestor
from adstats.ingest.reader import chunk_of_bytes
from adstats.ingest.report import IngestReport
from adstats.query.answers import StatsAnswers
from adstats.query.params import StatsQuery
from adstats.storage.duckdb.store import DuckDBStore

Row = dict[str, Any]
Event = dict[str, Any]

# "Now" for the 5-minute future rule: 2023-06-01T12:00:00Z.
NOW = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def hex_id(prefix: str, number: int) -> str:
    """A 24-character lowercase hexadecimal id: prefix (hex) then number."""
    text = f"{prefix}{number:0{24 - len(prefix)}x}"
    assert len(text) == 24 and all(c in "0123456789abcdef" for c in text), text
    return text


# The standard world: account A1 (two campaigns, two contents, two creatives)
# and a second account A2 that A1's events must never reach.
A1 = hex_id("aa", 1)
A2 = hex_id("aa", 2)
ADV1 = hex_id("ad", 1)
ADV2 = hex_id("ad", 2)
C1 = hex_id("ca", 1)
C2 = hex_id("ca", 2)
C9 = hex_id("ca", 9)
I1 = hex_id("1e", 1)  # C1, cpm 2.00
I2 = hex_id("1e", 2)  # C1, cpc 0.50
I3 = hex_id("1e", 3)  # C2, cpv 0.10
I9 = hex_id("1e", 9)  # C9 (account A2)
K1 = hex_id("c0", 1)
K2 = hex_id("c0", 2)
R1 = hex_id("cc", 1)  # display creative of A1
R2 = hex_id("cc", 2)  # video creative of A1
R9 = hex_id("cc", 9)  # creative of A2


def account(
    account_id: str, name: str, currency: str = "EUR", timezone: str | None = "UTC"
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": account_id, "name": name, "currency": currency}
    if timezone is not None:
        item["timezone"] = timezone
    return item


def advertiser(advertiser_id: str, account_id: str, name: str) -> dict[str, Any]:
    return {"id": advertiser_id, "account_id": account_id, "name": name}


def campaign(
    campaign_id: str,
    account_id: str,
    advertiser_id: str,
    name: str,
    budget: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": campaign_id,
        "account_id": account_id,
        "advertiser_id": advertiser_id,
        "name": name,
    }
    if budget is not None:
        item["budget"] = budget
    return item


def insertion(
    insertion_id: str,
    campaign_id: str,
    name: str,
    pricing_model: str = "cpm",
    price: str = "2.00",
    budget: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": insertion_id,
        "campaign_id": campaign_id,
        "name": name,
        "pricing_model": pricing_model,
        "price": price,
    }
    if budget is not None:
        item["budget"] = budget
    return item


def content(content_id: str, name: str) -> dict[str, Any]:
    return {"id": content_id, "name": name}


def creative(
    creative_id: str, account_id: str, name: str, creative_format: str = "display"
) -> dict[str, Any]:
    return {
        "id": creative_id,
        "account_id": account_id,
        "name": name,
        "format": creative_format,
    }


def standard_catalog(
    *,
    currency: str = "EUR",
    timezone: str = "UTC",
    c1_budget: str | None = None,
    i1: tuple[str, str, str | None] = ("cpm", "2.00", None),
    i2: tuple[str, str, str | None] = ("cpc", "0.50", None),
    i3: tuple[str, str, str | None] = ("cpv", "0.10", None),
) -> dict[str, Any]:
    """The standard world; i1..i3 are (pricing_model, price, budget)."""
    return {
        "accounts": [
            account(A1, "Acme", currency, timezone),
            account(A2, "Other", "USD", "UTC"),
        ],
        "advertisers": [
            advertiser(ADV1, A1, "Acme Brands"),
            advertiser(ADV2, A2, "Other Brands"),
        ],
        "campaigns": [
            campaign(C1, A1, ADV1, "Spring", c1_budget),
            campaign(C2, A1, ADV1, "Summer"),
            campaign(C9, A2, ADV2, "Elsewhere"),
        ],
        "insertions": [
            insertion(I1, C1, "Spring display", i1[0], i1[1], i1[2]),
            insertion(I2, C1, "Spring clicks", i2[0], i2[1], i2[2]),
            insertion(I3, C2, "Summer video", i3[0], i3[1], i3[2]),
            insertion(I9, C9, "Elsewhere display"),
        ],
        "contents": [content(K1, "Front page"), content(K2, "Sports")],
        "creatives": [
            creative(R1, A1, "Banner"),
            creative(R2, A1, "Clip", "video"),
            creative(R9, A2, "Other banner"),
        ],
    }


CAMPAIGN_OF = {I1: C1, I2: C1, I3: C2, I9: C9}


def event(
    event_id: str,
    event_type: str,
    impression_id: str,
    ts: str | int = "2023-01-10T12:00:00Z",
    *,
    insertion_id: str = I1,
    campaign_id: str | None = None,
    creative_id: str = R1,
    content_id: str | None = None,
) -> Event:
    """An event of the standard world; the campaign defaults to the
    insertion's own."""
    item: Event = {
        "id": event_id,
        "type": event_type,
        "ts": ts,
        "impression_id": impression_id,
        "campaign_id": campaign_id or CAMPAIGN_OF[insertion_id],
        "insertion_id": insertion_id,
        "creative_id": creative_id,
    }
    if content_id is not None:
        item["content_id"] = content_id
    return item


def ndjson(lines: Iterable[Event | str | bytes]) -> bytes:
    """NDJSON bytes: dicts are serialized, str and bytes lines kept as given."""
    out = bytearray()
    for line in lines:
        if isinstance(line, dict):
            out += orjson.dumps(line)
        elif isinstance(line, str):
            out += line.encode("utf-8")
        else:
            out += line
        out += b"\n"
    return bytes(out)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


class World:
    """One adstats database in a file, driven as the CLI and API drive it."""

    def __init__(self, path: Path, catalog: dict[str, Any] | None = None) -> None:
        self.now_ms = NOW_MS
        self.store = DuckDBStore(str(path))
        self.ingestor = Ingestor(self.store, clock=lambda: self.now_ms)
        self.admin = LocalAdmin(self.store, self.ingestor)
        self.answers = StatsAnswers(self.store)
        if catalog is not None:
            self.admin.load_catalog(catalog)

    def close(self) -> None:
        self.admin.close()

    def load(self, catalog: dict[str, Any]) -> None:
        self.admin.load_catalog(catalog)

    def ingest(self, lines: Iterable[Event | str | bytes]) -> IngestReport:
        return self.ingest_bytes(ndjson(lines))

    def ingest_bytes(self, data: bytes) -> IngestReport:
        return self.admin.ingest_chunk(chunk_of_bytes(data))

    def account(self, account_id: str = A1) -> Account:
        return self.store.catalog_state().catalog.accounts[account_id]

    def campaigns(
        self,
        date_from: date,
        date_to: date | None = None,
        *,
        campaign_id: str | None = None,
        account_id: str = A1,
        by_day: bool = False,
        by_insertion: bool = False,
        by_content: bool = False,
        by_creative: bool = False,
    ) -> list[Row]:
        query = StatsQuery(
            date_from=date_from,
            date_to=date_to or date_from,
            by_day=by_day,
            by_insertion=by_insertion,
            by_content=by_content,
            by_creative=by_creative,
        )
        return self.answers.campaigns(self.account(account_id), campaign_id, query)

    def campaign(self, day: date, campaign_id: str = C1, **kwargs: Any) -> Row:
        """The single row of one campaign without breakdowns."""
        rows = self.campaigns(day, campaign_id=campaign_id, **kwargs)
        assert len(rows) == 1, rows
        return rows[0]

    def entities(
        self,
        kind: str,
        date_from: date,
        date_to: date | None = None,
        *,
        entity_id: str | None = None,
        account_id: str = A1,
        by_day: bool = False,
    ) -> list[Row]:
        query = StatsQuery(
            date_from=date_from, date_to=date_to or date_from, by_day=by_day
        )
        return self.answers.entities(self.account(account_id), kind, entity_id, query)


COUNTER_FIELDS: tuple[str, ...] = (
    "impressions",
    "visible_impressions",
    "engagements",
    "votes",
    "clicks",
    "form_submissions",
    "optin_submissions",
    "video_impressions",
    "video_visible_impressions",
    "video_start",
    "video_first_quartile",
    "video_midpoint",
    "video_third_quartile",
    "video_complete",
    "billables",
)


def counters(row: Row) -> dict[str, int]:
    return {name: row[name] for name in COUNTER_FIELDS}


def nonzero(row: Row) -> dict[str, Any]:
    """The metrics of a row that are not zero (rates and spent included)."""
    skip = {
        "date",
        "campaign_id",
        "campaign_name",
        "insertion_id",
        "insertion_name",
        "content_id",
        "content_name",
        "creative_id",
        "creative_name",
        "advertiser_id",
        "advertiser_name",
    }
    return {k: v for k, v in row.items() if k not in skip and v != 0}
