"""Answers are encoded a column at a time (api.spelling, api.rowtext) yet must
be, byte for byte, what the row-by-row encoders wrote before: orjson over
Python rows for JSON, the csv module for CSV. Each expected text here comes
from those encoders, over Python values computed from the integer rules of
SPEC sections 4 and 5 (never from the code under test)."""

import asyncio
import csv
import io
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from starlette.responses import Response, StreamingResponse

from adstats.api import encoding
from adstats.api.encoding import rows_response
from adstats.api.spelling import spelled
from adstats.domain.metric_columns import rate_column, spent_column
from adstats.query.answers import Answer

MAX_INT64 = 2**63 - 1


def texts(column: pa.Array, style: str) -> list[str]:
    """The text of each row of the column, as the encoder spells it."""
    spelling = spelled([column], style, [""])  # type: ignore[arg-type]
    shown: list[str] = spelling.texts.take(spelling.indices).to_pylist()
    return shown


def decimals(unscaled: list[int], places: int, precision: int = 19) -> pa.Array:
    values = [Decimal(f"{n}E-{places}") for n in unscaled]
    return pa.array(values, pa.decimal128(precision, places))


def half_up(fraction: Fraction, places: int) -> int:
    """The (non-negative) fraction rounded half-up to `places` decimals, in
    10**-places."""
    return int(fraction * 10**places + Fraction(1, 2))


# -- numbers ----------------------------------------------------------------------


def texts_by_block(values: list[int], places: int, style: str) -> list[str]:
    """texts() of the decimals, the first 1,000 one by one, then by blocks of
    1,000: a column is spelled by the encoders themselves as soon as one of
    its values needs it, so each value near zero is tried alone."""
    blocks = [values[n : n + 1] for n in range(min(len(values), 1000))]
    blocks += [values[n : n + 1000] for n in range(1000, len(values), 1000)]
    return [text for block in blocks for text in texts(decimals(block, places), style)]


def test_every_rate_is_spelled_as_the_encoders_spell_its_float() -> None:
    """All 1,000,001 rates from 0 to 1, and some above 1 (clicks may outnumber
    visible impressions): 0.0, 0.5, 0.018109, 1e-06 (1e-6 in JSON)..."""
    millionths = [*range(1_000_001), 1_500_000, 2_000_000, 123_456_789, 10**14 + 7]

    assert texts_by_block(millionths, 6, "json") == [
        orjson.dumps(m / 1_000_000).decode() for m in millionths
    ]
    assert texts_by_block(millionths, 6, "csv") == [
        str(m / 1_000_000) for m in millionths
    ]


def _amounts(places: int) -> list[int]:
    """Amounts of each number of digits, in blocks of 1,000 of one size."""
    rng = random.Random(places)
    amounts = [*range(1000), *range(10**15 - 500, 10**15 + 500)]
    for digits in range(1, 20):
        amounts += [rng.randrange(10 ** (digits - 1), 10**digits) for _ in range(1000)]
    return [*amounts, 2**53 - 1, 2**53, 2**53 + 1, MAX_INT64]


@pytest.mark.parametrize("places", [1, 2, 3, 4])
def test_amounts_are_spelled_as_the_encoders_spell_their_float(places: int) -> None:
    """Spent with 2 (EUR), 3 (KWD) or 4 (CLF) decimals: the float of the exact
    amount, as the answers showed it (46.41, 46.4, 46.0, 1e+16...)."""
    amounts = _amounts(places)

    assert texts_by_block(amounts, places, "json") == [
        orjson.dumps(n / 10**places).decode() for n in amounts
    ]
    assert texts_by_block(amounts, places, "csv") == [
        str(n / 10**places) for n in amounts
    ]


def test_amounts_past_64_bits_are_spelled_as_the_encoders_spell_them() -> None:
    amounts = [MAX_INT64 + 1, 10**30 + 5, 17 * 10**36 + 3]
    column = decimals(amounts, 2, precision=38)

    assert texts(column, "json") == [orjson.dumps(n / 100).decode() for n in amounts]
    assert texts(column, "csv") == [str(n / 100) for n in amounts]


def test_whole_amounts_and_counters_are_their_digits() -> None:
    """JPY spent (no minor unit) and counters: JSON integers."""
    values = [0, 1, 9, 10, 46, 12345, 2**53 + 1, MAX_INT64]

    for column in (pa.array(values, pa.int64()), decimals(values, 0)):
        assert texts(column, "json") == [orjson.dumps(n).decode() for n in values]
        assert texts(column, "csv") == [str(n) for n in values]


def test_rates_follow_the_integer_rule_even_past_64_bits() -> None:
    """click_through_rate = clicks / visible impressions, rounded half-up to 6
    places, 0 for no visible impression; numerators too large for int64
    arithmetic are computed exactly too."""
    rng = random.Random(4)
    pairs = [(0, 0), (5, 0), (1, 3), (2, 3), (1, 8), (1, 2_000_000), (1, 1_999_999)]
    pairs += [(rng.randrange(10**6), rng.randrange(1, 10**6)) for _ in range(3000)]
    pairs += [(MAX_INT64 // 3, 7), (MAX_INT64, 1), (MAX_INT64, MAX_INT64)]
    numerators = pa.array([n for n, _ in pairs], pa.int64())
    denominators = pa.array([d for _, d in pairs], pa.int64())

    got = rate_column(numerators, denominators).to_pylist()

    assert got == [
        Decimal(half_up(Fraction(n, d), 6) if d else 0).scaleb(-6) for n, d in pairs
    ]


@pytest.mark.parametrize(("currency", "places"), [("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_spent_rounds_half_up_to_the_minor_unit_even_past_64_bits(
    currency: str, places: int
) -> None:
    rng = random.Random(places)
    nanos = [0, 1, 4_999_999, 5_000_000, 5_000_001, 499_999, 500_000, 10**9]
    nanos += [rng.randrange(10**15) for _ in range(3000)]
    nanos += [MAX_INT64, MAX_INT64 + 1, 10**30 + 5 * 10**6]
    column = pa.array([Decimal(n) for n in nanos], pa.decimal128(38, 0))

    got = spent_column(column, currency).to_pylist()

    expected = [half_up(Fraction(n, 10**9), places) for n in nanos]
    assert [int(v.scaleb(places)) if places else int(v) for v in got] == expected
    small = spent_column(column.slice(0, 3008), currency)
    assert small.type == (pa.int64() if places == 0 else pa.decimal128(19, places))


# -- whole answers ------------------------------------------------------------------

NAMES = [
    "Plain",
    'Spring, "Printemps"',
    "Home\npage 🎉",
    "carriage\rreturn",
    "tab\tand\\backslash",
    "control \x01 \x1f and \x7f",
    "line\u2028separator",
    "Été — 春の京都",
    "",
]


def sample(count: int) -> list[dict[str, Any]]:
    """What rows shaped like /api/campaigns rows hold, as exact integers."""
    rng = random.Random(count)
    return [
        {
            "day": date(2024, 2, 27) + timedelta(days=n // 7),
            "campaign": n % 3,
            "content": rng.choice([None, *range(len(NAMES))]),
            "impressions": rng.choice([0, 1, 7, 10**12, MAX_INT64]),
            "millionths": rng.choice(
                [0, 1, 12, 99, 100, 500_000, 1_000_000, 2_500_000, rng.randrange(10**6)]
            ),
            "cents": rng.choice([0, 1, 4640, 4641, 10**14]),
            "yen": rng.choice([0, 3, 10**15]),
        }
        for n in range(count)
    ]


HEADER = ["date", "campaign_id", "campaign_name", "content_id", "content_name",
          "impressions", "click_through_rate", "spent", "spent_yen"]  # fmt: skip
CAMPAIGN_IDS = [f"{n:024x}" for n in range(3)]
CONTENT_IDS = [f"c{n:023x}" for n in range(len(NAMES))]


def python_row(raw: dict[str, Any]) -> dict[str, Any]:
    """The row as the answers showed it: floats for rates and amounts."""
    content = raw["content"]
    values = [raw["day"].isoformat(), CAMPAIGN_IDS[raw["campaign"]],
              NAMES[raw["campaign"] + 1],
              None if content is None else CONTENT_IDS[content],
              None if content is None else NAMES[content],
              raw["impressions"], raw["millionths"] / 1_000_000, raw["cents"] / 100,
              raw["yen"]]  # fmt: skip
    return dict(zip(HEADER, values, strict=True))


def batches_of(raws: list[dict[str, Any]], size: int) -> Iterator[pa.RecordBatch]:
    """Answer batches holding the rows, typed as query.answers.Answer says:
    ids and names as dictionary columns over storage keys (campaigns 0-2,
    contents from 3)."""
    ids = pa.array(CAMPAIGN_IDS + CONTENT_IDS)
    names = pa.array([*NAMES[1:4], *NAMES])
    for start in range(0, len(raws), size):
        part = raws[start : start + size]
        campaigns = pa.array([r["campaign"] for r in part], pa.int32())
        contents = pa.array(
            [None if r["content"] is None else 3 + r["content"] for r in part],
            pa.int32(),
        )
        columns = [
            pa.array([r["day"] for r in part], pa.date32()),
            pa.DictionaryArray.from_arrays(campaigns, ids),
            pa.DictionaryArray.from_arrays(campaigns, names),
            pa.DictionaryArray.from_arrays(contents, ids),
            pa.DictionaryArray.from_arrays(contents, names),
            pa.array([r["impressions"] for r in part], pa.int64()),
            decimals([r["millionths"] for r in part], 6),
            decimals([r["cents"] for r in part], 2),
            pa.array([r["yen"] for r in part], pa.int64()),
        ]
        yield pa.RecordBatch.from_arrays(columns, names=HEADER)


def body_of(response: Response) -> bytes:
    if not isinstance(response, StreamingResponse):
        return bytes(response.body)
    chunks: list[bytes] = []

    async def read() -> None:
        async for chunk in response.body_iterator:
            chunks.append(bytes(chunk))  # type: ignore[arg-type]

    asyncio.run(read())
    return b"".join(chunks)


def csv_text(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow("" if row[name] is None else row[name] for name in header)
    return buffer.getvalue().encode()


@pytest.mark.parametrize("column_wise", [False, True])
@pytest.mark.parametrize(("count", "size"), [(0, 10), (1, 10), (9, 10), (2500, 1000)])
def test_answers_are_the_bytes_orjson_and_csv_write_for_their_rows(
    count: int, size: int, column_wise: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names that need escaping or quoting, no content (null), large numbers,
    rates spelled with an exponent; one batch is sent whole, several stream.
    column_wise: small answers too are encoded a column at a time."""
    if column_wise:
        monkeypatch.setattr(encoding, "SMALL_ROWS", 0)
    raws = sample(count)
    rows = [python_row(raw) for raw in raws]

    def answer() -> Answer:
        return Answer(tuple(HEADER), batches_of(raws, size))

    as_json = rows_response(answer(), "json", "x")
    as_csv = rows_response(answer(), "csv", "x")

    assert body_of(as_json) == orjson.dumps(rows)
    assert body_of(as_csv) == csv_text(HEADER, rows)
    streamed = count > size
    assert isinstance(as_json, StreamingResponse) == streamed
    assert isinstance(as_csv, StreamingResponse) == streamed
    assert answer().rows() == rows


def test_a_row_naming_nothing_the_catalog_holds_fails() -> None:
    """A storage key without an item (a null in the dictionary) is a broken
    store, never shown as an empty name."""
    keys = pa.array([0, 1], pa.int32())
    names = pa.DictionaryArray.from_arrays(keys, pa.array(["Known", None]))

    with pytest.raises(ValueError, match="catalog"):
        texts(names, "json")
    assert pc.sum(pc.is_null(names)).as_py() == 1
