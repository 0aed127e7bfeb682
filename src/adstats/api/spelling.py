"""How the values of an answer column are written in JSON and in CSV.

A column of a batch is spelled as its distinct values, each written once, and
for each row the index of its value's text (api.rowtext joins them into
rows). Answer columns repeat few values (ids, names, small counters), so the
writing costs next to nothing; finding the distinct values is one hashing
pass in C++. The texts are those orjson and the csv module write for the same
Python values, the encoders the answers had before:

- integers: their digits;
- decimals (query.answers.Answer): as the float of the same value, whose
  shortest spelling has the same digits: 46.41, 46.4, 46.0; where a float is
  spelled with an exponent (1e-6 in JSON, 1e-06 in CSV), by those encoders;
- dates: YYYY-MM-DD;
- strings: by orjson, or by the csv module (quoted when needed); null is
  `null` in JSON and nothing in CSV.
"""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

Style = Literal["json", "csv"]

_NULL = {"json": "null", "csv": ""}

# A float of fewer than 16 significant digits is spelled in plain digits,
# with the same digits, from 1e-4 (1e-5 for orjson) up to 1e16.
_PLAIN_BELOW = 10**15  # unscaled: fewer than 16 digits, and below 1e16
_PLAIN_FROM_PLACES = 4  # 1e-4


@dataclass(frozen=True)
class Spelled:
    """Fields, spelled: `texts` holds each distinct value's text once, after
    the constant text that precedes the field; `indices` (no nulls) which
    text each row shows."""

    indices: pa.Array
    texts: pa.Array


def spelled(
    columns: Sequence[pa.Array], style: Style, befores: Sequence[str]
) -> Spelled:
    """Adjacent fields spelled as one: several when they are dictionary columns
    over the same indices (an item's id and name), so that a row has one text
    for them rather than one each."""
    first = columns[0]
    if pa.types.is_dictionary(first.type):
        # Only the values the rows use: a catalog-wide dictionary is large.
        used = pc.dictionary_encode(first.indices)
        values = [pc.take(column.dictionary, used.dictionary) for column in columns]
    else:
        if len(columns) != 1:
            raise ValueError(
                "only dictionary columns over the same indices go together"
            )
        used = pc.dictionary_encode(first)
        values = [used.dictionary]
    indices = used.indices
    parts: list[pa.Array | str] = []
    for before, distinct in zip(befores, values, strict=True):
        texts = _texts(distinct, style)
        if indices.null_count:
            if not pa.types.is_string(distinct.type):
                raise ValueError(f"a {distinct.type} answer column cannot hold nulls")
            texts = pa.concat_arrays([texts, pa.array([_NULL[style]], pa.string())])
        parts += [before, texts]
    if indices.null_count:
        indices = pc.fill_null(indices, len(used.dictionary))
    return Spelled(indices, pc.binary_join_element_wise(*parts, ""))


def same_indices(one: pa.Array, other: pa.Array) -> bool:
    """Whether both are dictionary columns over the very same indices."""
    if not (pa.types.is_dictionary(one.type) and pa.types.is_dictionary(other.type)):
        return False
    a, b = one.indices, other.indices
    return bool(
        a.type == b.type
        and (a.offset, len(a)) == (b.offset, len(b))
        and [x and x.address for x in a.buffers()]
        == [y and y.address for y in b.buffers()]
    )


def _texts(values: pa.Array, style: Style) -> pa.Array:
    kind = values.type
    if pa.types.is_string(kind):
        if values.null_count:  # a storage key the catalog has no item for
            raise ValueError("an answer names something the catalog does not hold")
        spell = json_string if style == "json" else csv_field
        return pa.array([spell(v) for v in values.to_pylist()], pa.string())
    if pa.types.is_integer(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_decimal(kind):
        return _decimal_texts(values, style)
    if pa.types.is_date32(kind):
        text = pc.cast(values, pa.string())
        return (
            pc.binary_join_element_wise('"', text, '"', "") if style == "json" else text
        )
    raise TypeError(f"no spelling for answer values of type {kind}")


def json_string(value: str) -> str:
    return orjson.dumps(value).decode()


def csv_field(value: str) -> str:
    """The field as the csv module writes it inside a row, quoted when needed:
    the row ["", value] is a comma, then the field."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\r\n").writerow(["", value])
    return line.getvalue()[1:-2]


# -- decimals -----------------------------------------------------------------


def _decimal_texts(values: pa.Array, style: Style) -> pa.Array:
    places = values.type.scale
    try:
        unscaled = pc.cast(
            values.view(pa.decimal128(values.type.precision, 0)), pa.int64()
        )
    except pa.ArrowInvalid:  # past int64: too rare to need speed
        return _python_texts(values, style)
    if places == 0:
        return pc.cast(unscaled, pa.string())
    if places < 0 or _needs_python(unscaled, places):
        return _python_texts(values, style)
    scale = 10**places
    whole = pc.divide(unscaled, scale)
    fraction = pc.subtract(unscaled, pc.multiply(whole, scale))
    # scale + fraction is "1" and then the fraction's digits, zero-padded.
    digits = pc.utf8_slice_codeunits(pc.cast(pc.add(fraction, scale), pa.string()), 1)
    # Trailing zeros go, but one digit stays: 46.40 -> 46.4, 46.00 -> 46.0.
    digits = pc.utf8_rpad(pc.utf8_rtrim(digits, "0"), width=1, padding="0")
    return pc.binary_join_element_wise(pc.cast(whole, pa.string()), digits, ".")


def _needs_python(unscaled: pa.Array, places: int) -> bool:
    """Whether a value falls where a float is not spelled in plain digits."""
    if not len(unscaled):
        return False
    outside = pc.greater_equal(unscaled, _PLAIN_BELOW)
    if places > _PLAIN_FROM_PLACES:
        small = pc.less(unscaled, 10 ** (places - _PLAIN_FROM_PLACES))
        outside = pc.or_(outside, pc.and_(pc.greater(unscaled, 0), small))
    return bool(pc.any(outside).as_py())


def _python_texts(values: pa.Array, style: Style) -> pa.Array:
    """The encoders' own texts for each value's float (int for scale 0)."""
    number: Callable[[Decimal], int | float] = int if values.type.scale <= 0 else float
    if style == "json":
        texts = [orjson.dumps(number(v)).decode() for v in values.to_pylist()]
    else:
        texts = [str(number(v)) for v in values.to_pylist()]
    return pa.array(texts, pa.string())
