"""Currencies, exact amounts and how they are shown (SPEC section 5).

Amounts are kept as integers of nanos (10**-9 of the currency unit): exact under
addition, cheap to store, and fine enough for a CPM price with six decimals.
They are rounded half-up to the currency's minor unit only when shown.
"""

import re
from decimal import Decimal, InvalidOperation

NANOS_PER_UNIT = 10**9
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,21}(\.[0-9]+)?")

# ISO 4217 active codes and their minor units (exponent). Codes not listed have 2.
_MINOR_UNITS_EXCEPTIONS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
    "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
    "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

_TWO_DECIMAL_CODES = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD "
    "EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS "
    "INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK "
    "MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST "
    "XCD XCG YER ZAR ZMW ZWG"
).split()

MINOR_UNITS: dict[str, int] = {
    **{code: 2 for code in _TWO_DECIMAL_CODES},
    **_MINOR_UNITS_EXCEPTIONS,
}


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def minor_units(currency: str) -> int:
    return MINOR_UNITS[currency]


def parse_amount(text: str, *, max_decimals: int = 9) -> int:
    """Parses a plain decimal string such as "2.50" into nanos; raises
    ValueError for anything else (signs, exponents, NaN included)."""
    if not isinstance(text, str) or not _PLAIN_DECIMAL.fullmatch(text):
        raise ValueError(
            f'{text!r} is not a decimal number of at least 0 such as "2.50"'
        )
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f'{text!r} is not a decimal number such as "2.50"') from exc
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > max_decimals:
        raise ValueError(f"{text!r} has more than {max_decimals} decimal places")
    return int(value * NANOS_PER_UNIT)


def in_minor_units(nanos: int, currency: str) -> int:
    """The amount rounded half-up to the currency's minor unit, counted in
    that unit (cents for EUR, yen for JPY): exact integer arithmetic."""
    step = int(10 ** (9 - minor_units(currency)))
    return (nanos * 2 + step) // (2 * step)


def format_nanos(nanos: int) -> str:
    """An exact decimal string, trailing zeros removed ("2.5", "0.0025", "3")."""
    value = (Decimal(nanos) / NANOS_PER_UNIT).normalize()
    return f"{value:f}"
