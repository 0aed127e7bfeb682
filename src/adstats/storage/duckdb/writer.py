"""The write side of the DuckDB backend: one batch of events, one transaction.

Steps, all inside the transaction the caller opened:
1. hash ids; keep the first line of each id not seen before (the rest are
   duplicates);
2. of those, the events that count: every event of the every-event types, the
   first of each impression and type for the others;
3. decide what is billable, in line order, against what is left of budgets;
4. append the batch's partial sums to the rollups and to the spend per
   insertion.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from adstats.domain.billing import (
    Budget,
    Candidate,
    billable_type_code,
    decide_billable,
    unit_cost_nanos,
)
from adstats.domain.events import ONCE_PER_IMPRESSION_CODES
from adstats.ingest.report import IngestReport
from adstats.storage.base import CatalogState
from adstats.storage.duckdb.schema import COUNTER_COLUMNS, scalar
from adstats.storage.duckdb.seen import Hashes, KeyFilter

_LOW_64 = (1 << 64) - 1


@dataclass(frozen=True)
class _Pricing:
    insertion_key: int
    campaign_key: int
    billable_code: int
    unit_cost: int
    budget: int | None
    campaign_budget: int | None


@dataclass
class SeenKeys:
    """Filters over the stored keys of both kinds (see seen.py)."""

    events: KeyFilter
    impressions: KeyFilter


def apply_events(
    con: duckdb.DuckDBPyConnection,
    events: pa.Table,
    state: CatalogState,
    seen: SeenKeys,
) -> tuple[IngestReport, int]:
    """The batch's report, and how many rollup rows it appended."""
    pricings = _pricings(state)
    con.register("batch_arrow", events)
    _register_pricing(con, pricings)

    accepted = _keep_new_events(con, seen)
    _keep_counted_events(con, seen)
    _mark_billable(con, pricings)
    appended = _append_rollups(con)

    con.unregister("batch_arrow")
    con.unregister("pricing_arrow")
    return IngestReport(
        accepted=accepted, duplicates=events.num_rows - accepted
    ), appended


def _keep_new_events(con: duckdb.DuckDBPyConnection, seen: SeenKeys) -> int:
    # Ids are hashed once; after this, no step reads a string.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE batch_hashed AS
           SELECT line_no, type_code, day, campaign_key, insertion_key,
                  content_key, creative_key,
                  md5_number(event_id) AS eh,
                  md5_number(impression_id || chr(0) || type_code::VARCHAR) AS ih
           FROM batch_arrow"""
    )
    _keep_first_unstored(
        con,
        "batch_hashed",
        "eh",
        into="batch_new",
        stored="event_keys",
        seen=seen.events,
    )
    return int(scalar(con, "SELECT count(*) FROM batch_new"))


def _keep_counted_events(con: duckdb.DuckDBPyConnection, seen: SeenKeys) -> None:
    once = list(ONCE_PER_IMPRESSION_CODES)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE batch_once AS
           SELECT line_no, ih FROM batch_new WHERE list_contains($once, type_code)""",
        {"once": once},
    )
    _keep_first_unstored(
        con,
        "batch_once",
        "ih",
        into="batch_once_new",
        stored="impression_keys",
        seen=seen.impressions,
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE counted AS
           SELECT b.line_no, b.type_code, b.day, b.campaign_key, b.insertion_key,
                  b.content_key, b.creative_key,
                  b.type_code = p.billable_code AS candidate, p.unit_cost
           FROM batch_new b JOIN pricing_arrow p USING (insertion_key)
           WHERE NOT list_contains($once, b.type_code)
              OR b.line_no IN (SELECT line_no FROM batch_once_new)""",
        {"once": once},
    )


def _keep_first_unstored(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    column: str,
    *,
    into: str,
    stored: str,
    seen: KeyFilter,
) -> None:
    """Makes the table `into`: the first row of each hash in `column`
    that is not among the hashes in `stored`; then stores those hashes.

    The filter clears most rows; the stored keys are read only for the
    maybes, and then DuckDB's hash table holds just those (`h IN (SELECT
    ...)` builds it from the subquery).
    """
    hashes = con.sql(
        f"""SELECT line_no, ({column} >> 64)::UBIGINT AS high,
                   ({column} & {_LOW_64})::UBIGINT AS low
            FROM {rows}"""
    ).to_arrow_table()
    lines = hashes["line_no"].to_numpy()
    high, low = hashes["high"].to_numpy(), hashes["low"].to_numpy()

    keep = _first_of_each(lines, high, low)
    maybe = keep & seen.might_hold(high, low)
    if maybe.any():
        keep &= ~np.isin(lines, _stored_lines(con, rows, column, stored, lines[maybe]))
    con.register("dropped_arrow", pa.table({"line_no": lines[~keep]}))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {into} AS
            SELECT * FROM {rows}
            WHERE line_no NOT IN (SELECT line_no FROM dropped_arrow)"""
    )
    con.unregister("dropped_arrow")

    con.execute(f"INSERT INTO {stored} SELECT {column} FROM {into}")
    seen.add(high[keep], low[keep])


def _first_of_each(
    lines: npt.NDArray[np.int64], high: Hashes, low: Hashes
) -> npt.NDArray[np.bool_]:
    """Marks the first line of each distinct hash. Repeats are rare, so one
    sort on the high half finds them, and only they are sorted further."""
    first = np.ones(len(lines), np.bool_)
    order = np.argsort(high)
    sorted_high = high[order]
    same = sorted_high[1:] == sorted_high[:-1]
    if not same.any():
        return first

    in_run = np.zeros(len(order), np.bool_)
    in_run[1:] |= same
    in_run[:-1] |= same
    members = order[in_run]
    members = members[np.lexsort((lines[members], low[members], high[members]))]
    repeat = (high[members][1:] == high[members][:-1]) & (
        low[members][1:] == low[members][:-1]
    )
    first[members[1:][repeat]] = False
    return first


def _stored_lines(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    column: str,
    stored: str,
    maybe_lines: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Which of the given lines have a hash in `stored`."""
    con.register("maybe_arrow", pa.table({"line_no": maybe_lines}))
    found = con.sql(
        f"""SELECT line_no FROM {rows}
            WHERE line_no IN (SELECT line_no FROM maybe_arrow)
              AND {column} IN (
                  SELECT h FROM {stored} WHERE h IN (
                      SELECT {column} FROM {rows}
                      WHERE line_no IN (SELECT line_no FROM maybe_arrow)))"""
    ).fetchnumpy()["line_no"]
    con.unregister("maybe_arrow")
    return np.asarray(found, np.int64)


def _pricings(state: CatalogState) -> list[_Pricing]:
    cat = state.catalog
    return [
        _Pricing(
            insertion_key=state.key(ins.id),
            campaign_key=state.key(ins.campaign_id),
            billable_code=billable_type_code(ins.pricing_model),
            unit_cost=unit_cost_nanos(ins.pricing_model, ins.price_nanos),
            budget=ins.budget_nanos,
            campaign_budget=cat.campaigns[ins.campaign_id].budget_nanos,
        )
        for ins in cat.insertions.values()
    ]


def _register_pricing(
    con: duckdb.DuckDBPyConnection, pricings: Sequence[_Pricing]
) -> None:
    table = pa.table(
        {
            "insertion_key": pa.array([p.insertion_key for p in pricings], pa.int32()),
            "billable_code": pa.array([p.billable_code for p in pricings], pa.uint8()),
            "unit_cost": pa.array([p.unit_cost for p in pricings], pa.int64()),
        }
    )
    con.register("pricing_arrow", table)


def _mark_billable(
    con: duckdb.DuckDBPyConnection, pricings: Sequence[_Pricing]
) -> None:
    """Adds the billable column. Campaigns whose candidates all fit in their
    budgets are decided at once; the others walk their candidates in order."""
    spent = dict(
        con.execute(
            "SELECT insertion_key, sum(spent_nanos) FROM spend GROUP BY ALL"
        ).fetchall()
    )
    wanted = dict(
        con.execute(
            """SELECT insertion_key, count(*) FROM counted WHERE candidate
               GROUP BY ALL"""
        ).fetchall()
    )
    ins_budgets, camp_budgets = _budgets(pricings, spent)
    tight = _campaigns_over_budget(pricings, wanted, ins_budgets, camp_budgets)

    billed_lines: list[int] = []
    if tight:
        rows = con.execute(
            """SELECT line_no, insertion_key, campaign_key, unit_cost FROM counted
               WHERE candidate AND list_contains($tight, campaign_key)
               ORDER BY line_no""",
            {"tight": sorted(tight)},
        ).fetchall()
        candidates = [Candidate(*row) for row in rows]
        billed_lines = decide_billable(candidates, ins_budgets, camp_budgets)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE counted_billed AS
           SELECT *, candidate AND (NOT list_contains($tight, campaign_key)
                                    OR line_no IN (SELECT unnest($billed::BIGINT[])))
                     AS billable
           FROM counted""",
        {"tight": sorted(tight), "billed": billed_lines},
    )


def _budgets(
    pricings: Sequence[_Pricing], spent: dict[int, int]
) -> tuple[dict[int, Budget], dict[int, Budget]]:
    ins_budgets: dict[int, Budget] = {}
    camp_spent: dict[int, int] = {}
    for p in pricings:
        used = int(spent.get(p.insertion_key, 0))
        camp_spent[p.campaign_key] = camp_spent.get(p.campaign_key, 0) + used
        ins_budgets[p.insertion_key] = Budget(
            None if p.budget is None else p.budget - used
        )
    camp_budgets = {
        p.campaign_key: Budget(
            None
            if p.campaign_budget is None
            else p.campaign_budget - camp_spent[p.campaign_key]
        )
        for p in pricings
    }
    return ins_budgets, camp_budgets


def _campaigns_over_budget(
    pricings: Sequence[_Pricing],
    wanted: dict[int, int],
    ins_budgets: dict[int, Budget],
    camp_budgets: dict[int, Budget],
) -> set[int]:
    """Campaigns where billing every candidate would break a budget."""
    tight: set[int] = set()
    camp_cost: dict[int, int] = {}
    for p in pricings:
        cost = wanted.get(p.insertion_key, 0) * p.unit_cost
        camp_cost[p.campaign_key] = camp_cost.get(p.campaign_key, 0) + cost
        if not ins_budgets[p.insertion_key].fits(cost):
            tight.add(p.campaign_key)
    for campaign_key, cost in camp_cost.items():
        if not camp_budgets[campaign_key].fits(cost):
            tight.add(campaign_key)
    return tight


_COUNTS = ",\n".join(
    f"count(*) FILTER (WHERE type_code = {code}) AS {column}"
    for code, column in enumerate(COUNTER_COLUMNS)
)
_SUMS = ", ".join(f"sum({column})" for column in COUNTER_COLUMNS)


def _append_rollups(con: duckdb.DuckDBPyConnection) -> int:
    """Appends the batch's sums; returns how many rollup rows it added."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE batch_daily AS
            SELECT day, campaign_key, insertion_key, content_key, creative_key,
                   {_COUNTS},
                   count(*) FILTER (WHERE billable) AS billables,
                   coalesce(sum(unit_cost) FILTER (WHERE billable), 0)::HUGEINT
                       AS spent_nanos
            FROM counted_billed GROUP BY ALL"""
    )
    con.execute("INSERT INTO daily SELECT * FROM batch_daily")
    con.execute(
        f"""INSERT INTO campaign_daily
            SELECT day, campaign_key, {_SUMS}, sum(billables), sum(spent_nanos)
            FROM batch_daily GROUP BY ALL"""
    )
    con.execute(
        """INSERT INTO spend
           SELECT insertion_key, sum(spent_nanos) FROM batch_daily
           WHERE billables > 0 GROUP BY ALL"""
    )
    return int(scalar(con, "SELECT count(*) FROM batch_daily"))
