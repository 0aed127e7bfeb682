"""The filter in front of the stored keys: it may say "maybe" for a new key,
never "no" for a stored one, and deduplication stays exact either way."""

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adstats.storage.duckdb.seen import KeyFilter
from adstats.storage.duckdb.store import DuckDBStore
from adstats.storage.duckdb.writer import _first_of_each
from support.world import C1, World, counters, event, standard_catalog

U64 = st.integers(min_value=0, max_value=2**64 - 1)


def halves(pairs: list[tuple[int, int]]) -> tuple[Any, Any]:
    high = np.array([p[0] for p in pairs], np.uint64)
    low = np.array([p[1] for p in pairs], np.uint64)
    return high, low


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(U64, U64), min_size=1, max_size=300))
def test_a_key_added_is_always_a_maybe(pairs: list[tuple[int, int]]) -> None:
    seen = KeyFilter(capacity=0)
    seen.add(*halves(pairs))

    assert seen.might_hold(*halves(pairs)).all()
    assert seen.count == len(pairs)


def test_most_new_keys_are_ruled_out_at_capacity() -> None:
    rng = np.random.default_rng(7)
    seen = KeyFilter(capacity=1 << 20)
    seen.add(*rng.integers(0, 2**64, (2, 1 << 20), dtype=np.uint64))

    fresh = rng.integers(0, 2**64, (2, 200_000), dtype=np.uint64)
    maybes = int(seen.might_hold(fresh[0], fresh[1]).sum())

    # Expected about 0.15% at this load; 1% would make the filter pointless
    # for batches of a thousand events.
    assert maybes < 2_000
    assert not seen.full


def test_a_filter_past_its_capacity_says_so() -> None:
    seen = KeyFilter(capacity=0)
    rng = np.random.default_rng(8)
    seen.add(*rng.integers(0, 2**64, (2, seen.capacity + 1), dtype=np.uint64))

    assert seen.full


class AlwaysMaybe(KeyFilter):
    """A filter that rules nothing out, so every key takes the exact path."""

    def might_hold(self, high: Any, low: Any) -> Any:
        return np.ones(len(high), np.bool_)


def clicks(numbers: range, impression: str = "imp") -> list[dict[str, Any]]:
    return [
        event(f"click-{n}", "click", impression, f"2023-01-10T12:{n % 60:02d}:00Z")
        for n in numbers
    ]


def impressions(numbers: range) -> list[dict[str, Any]]:
    return [event(f"imp-{n}", "impression", f"view-{n}") for n in numbers]


@pytest.mark.parametrize("filters", ["real", "always maybe"])
def test_counts_are_exact_whatever_the_filter_says(
    tmp_path: Path, filters: str
) -> None:
    world = World(tmp_path / "db.duckdb", standard_catalog())
    if filters == "always maybe":
        for table in ("event_keys", "impression_keys"):
            world.store._key_filters[table] = AlwaysMaybe(capacity=0)

    first = world.ingest(clicks(range(0, 50)) + impressions(range(0, 30)))
    # 20 stored clicks again, 30 new; 10 stored impressions again under new
    # ids (counted once per impression), 10 new.
    again = world.ingest(
        clicks(range(30, 80))
        + [event(f"imp-again-{n}", "impression", f"view-{n}") for n in range(20, 40)]
    )

    assert (first.accepted, first.duplicates) == (80, 0)
    assert (again.accepted, again.duplicates) == (30 + 20, 20)
    row = counters(world.campaign(date(2023, 1, 10), C1))
    assert row["clicks"] == 80
    assert row["impressions"] == 40
    world.close()


def test_a_reopened_store_still_knows_every_stored_key(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    world = World(path, standard_catalog())
    world.ingest(clicks(range(0, 40)))
    world.close()

    again = World(path)
    report = again.ingest(clicks(range(0, 40)))

    assert (report.accepted, report.duplicates) == (0, 40)
    again.close()


def test_a_full_filter_is_made_again_bigger(tmp_path: Path) -> None:
    world = World(tmp_path / "db.duckdb", standard_catalog())
    world.ingest(clicks(range(0, 10)))
    store: DuckDBStore = world.store
    small = store._key_filters["event_keys"]
    small.count = small.capacity + 1  # as if it had taken a million keys

    report = world.ingest(clicks(range(5, 15)))

    rebuilt = store._key_filters["event_keys"]
    assert rebuilt is not small
    assert rebuilt.count == 15  # the stored keys, counted again from the table
    assert (report.accepted, report.duplicates) == (5, 5)
    world.close()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=120),
    st.randoms(use_true_random=False),
)
def test_the_first_line_of_each_hash_is_kept(
    keys: list[tuple[int, int]], rnd: Any
) -> None:
    """Few distinct halves, so that equal high halves with different low
    halves, and repeats, are common; lines come in any order."""
    lines = list(range(10, 10 + len(keys)))
    rnd.shuffle(lines)
    first_line: dict[tuple[int, int], int] = {}
    for line, key in zip(lines, keys, strict=True):
        first_line[key] = min(line, first_line.get(key, line))
    expected = [first_line[key] == line for line, key in zip(lines, keys, strict=True)]

    high, low = halves(keys)
    kept = _first_of_each(np.array(lines, np.int64), high, low)

    assert kept.tolist() == expected
