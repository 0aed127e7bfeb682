"""The read side of the DuckDB backend: sums over the rollups."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from adstats.storage.base import StatsRequest
from adstats.storage.duckdb.schema import MEASURES

_SUMS = ", ".join(f"sum({column})::HUGEINT" for column in MEASURES)

# dimension -> (key column in the rollups, catalog table)
_DIMENSIONS = {
    "campaign": ("campaign_key", "campaigns"),
    "insertion": ("insertion_key", "insertions"),
    "content": ("content_key", "contents"),
    "creative": ("creative_key", "creatives"),
}


def stats_sql(request: StatsRequest) -> tuple[str, dict[str, Any]]:
    """One SELECT for the request: rollup rows filtered, summed, joined to the
    catalog for ids, and ordered as the API answers them."""
    dims = _dimensions(request)
    table = "daily" if _needs_detail(request) else "campaign_daily"
    keys = sorted(request.campaign_keys)

    where = ["r.day BETWEEN $date_from AND $date_to"]
    params: dict[str, Any] = {
        "date_from": request.date_from,
        "date_to": request.date_to,
    }
    where.append(_campaign_filter(keys, params))
    if request.insertion_key is not None:
        where.append("r.insertion_key = $insertion_key")
        params["insertion_key"] = request.insertion_key
    if request.content_key is not None:
        where.append("r.content_key = $content_key")
        params["content_key"] = request.content_key

    group = (["r.day"] if request.by_day else []) + [
        f"r.{_DIMENSIONS[d][0]}" for d in dims
    ]
    inner = f"""SELECT {", ".join(group)}, {_SUMS}
                FROM {table} r WHERE {" AND ".join(where)}
                GROUP BY ALL"""
    return _with_ids(inner, request.by_day, dims), params


def _with_ids(inner: str, by_day: bool, dims: Sequence[str]) -> str:
    select = ["g.day"] if by_day else []
    joins = []
    order = ["g.day"] if by_day else []
    for dim in dims:
        column, catalog = _DIMENSIONS[dim]
        select.append(f"{dim}_t.id")
        joins.append(f"LEFT JOIN {catalog} {dim}_t ON {dim}_t.key = g.{column}")
        order.append(f"{dim}_t.id NULLS LAST")
    return f"""SELECT {", ".join(select)}, g.* EXCLUDE ({_group_columns(by_day, dims)})
               FROM ({inner}) g {" ".join(joins)}
               ORDER BY {", ".join(order)}"""


def _group_columns(by_day: bool, dims: Sequence[str]) -> str:
    columns = (["day"] if by_day else []) + [_DIMENSIONS[d][0] for d in dims]
    return ", ".join(columns)


def _dimensions(request: StatsRequest) -> list[str]:
    dims = ["campaign"] if request.by_campaign else []
    if request.by_insertion:
        dims.append("insertion")
    if request.by_content:
        dims.append("content")
    if request.by_creative:
        dims.append("creative")
    return dims


def _needs_detail(request: StatsRequest) -> bool:
    return (
        request.by_insertion
        or request.by_content
        or request.by_creative
        or request.insertion_key is not None
        or request.content_key is not None
    )


def _campaign_filter(keys: list[int], params: dict[str, Any]) -> str:
    """A filter DuckDB can prune row groups with: a constant for one campaign,
    a range plus a membership test for several."""
    if len(keys) == 1:
        params["campaign_key"] = keys[0]
        return "r.campaign_key = $campaign_key"
    params.update(low=keys[0] if keys else 0, high=keys[-1] if keys else -1, keys=keys)
    return (
        "r.campaign_key BETWEEN $low AND $high "
        "AND list_contains($keys::INTEGER[], r.campaign_key)"
    )


def active_campaigns_sql(
    keys: Sequence[int], date_from: date, date_to: date
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"date_from": date_from, "date_to": date_to}
    where = _campaign_filter(sorted(keys), params)
    # Rollup rows are only ever written for counted events, so any row counts.
    sql = f"""SELECT DISTINCT r.campaign_key FROM campaign_daily r
              WHERE r.day BETWEEN $date_from AND $date_to AND {where}"""
    return sql, params
