"""The metrics of domain.metrics computed over Arrow columns.

An answer can hold a hundred thousand rows; deriving each metric once per
column instead of once per row keeps Python out of the per-row work. Rates and
money come out as exact decimals (decimal128), the numbers the integer rules
of domain.metrics and domain.money give. Where int64 arithmetic would
overflow (sums far beyond any real campaign), those rules are applied value by
value instead, so no size of sum is ever wrong.
"""

from collections.abc import Sequence
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from adstats.domain.metrics import (
    COUNTERS,
    RATE_PLACES,
    RATE_SCALE,
    RATES,
    rate_millionths,
)
from adstats.domain.money import in_minor_units, minor_units

# Any int64 has at most 19 digits, so a decimal of this precision holds it.
_INT64_DIGITS = 19
_WIDE = 38  # the widest decimal128


def metric_columns(
    measures: pa.RecordBatch, metrics: Sequence[str], currency: str
) -> list[pa.Array]:
    """The columns of `metrics`, in order, from a batch holding the measures
    of storage.base.MEASURES (a counter per event type, billables,
    spent_nanos)."""
    columns: list[pa.Array] = []
    for metric in metrics:
        if metric in COUNTERS:
            columns.append(measures.column(COUNTERS[metric]))
        elif metric in RATES:
            numerator, denominator = RATES[metric]
            columns.append(
                rate_column(measures.column(numerator), measures.column(denominator))
            )
        elif metric == "billables":
            columns.append(measures.column("billables"))
        elif metric == "spent":
            columns.append(spent_column(measures.column("spent_nanos"), currency))
        else:
            raise ValueError(f"no rule derives the metric {metric!r}")
    return columns


def rate_column(numerators: pa.Array, denominators: pa.Array) -> pa.Array:
    """rate_millionths of each pair, as decimals with RATE_PLACES places."""
    try:
        half_up = pc.add_checked(
            pc.multiply_checked(numerators, 2 * RATE_SCALE), denominators
        )
        # Integer division; a zero denominator divides by 1 and is then zeroed.
        divisors = pc.max_element_wise(pc.multiply_checked(denominators, 2), 1)
        millionths = pc.if_else(
            pc.equal(denominators, 0), 0, pc.divide(half_up, divisors)
        )
    except pa.ArrowInvalid:  # an overflow
        exact = [
            rate_millionths(int(n), int(d))
            for n, d in zip(
                numerators.to_pylist(), denominators.to_pylist(), strict=True
            )
        ]
        return _wide_decimals(exact, RATE_PLACES)
    return _decimals(millionths, RATE_PLACES)


def spent_column(nanos: pa.Array, currency: str) -> pa.Array:
    """Spent rounded half-up to the currency's minor unit (in_minor_units):
    whole units as int64 for a currency without one (JPY), else decimals with
    its places."""
    places = minor_units(currency)
    step = 10 ** (9 - places)
    try:
        doubled = pc.multiply_checked(pc.cast(nanos, pa.int64()), 2)
        minor = pc.divide(pc.add_checked(doubled, step), 2 * step)
    except pa.ArrowInvalid:  # a sum past int64
        exact = [in_minor_units(int(n), currency) for n in nanos.to_pylist()]
        return _wide_decimals(exact, places)
    return minor if places == 0 else _decimals(minor, places)


def _decimals(unscaled: pa.Array, places: int) -> pa.Array:
    """int64 counts of 10**-places as decimals (4641, 2 -> 46.41): the same
    bytes read with a scale, no arithmetic."""
    integers = pc.cast(unscaled, pa.decimal128(_INT64_DIGITS, 0))
    return integers.view(pa.decimal128(_INT64_DIGITS, places))


def _wide_decimals(unscaled: Sequence[int], places: int) -> pa.Array:
    # Decimal from a string is exact whatever the number of digits.
    values = [Decimal(f"{value}E-{places}") for value in unscaled]
    return pa.array(values, pa.decimal128(_WIDE, places))
