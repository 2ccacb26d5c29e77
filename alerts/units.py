"""Temperature unit conversion (clinical reference, section 5: convert, round half-up, compare)."""

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

_HUNDREDTH = Decimal("0.01")
_TENTH = Decimal("0.1")
# A fixed context, so that an application-wide change of the decimal context cannot alter results.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)


def _require_finite(value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"temperature must be a finite Decimal, got {value!r}")


def fahrenheit_to_celsius(value: Decimal) -> Decimal:
    """Convert degrees Fahrenheit to Celsius, rounded half-up to 2 decimals."""
    _require_finite(value)
    with localcontext(_CONTEXT):
        return ((value - 32) * 5 / 9).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def celsius_to_fahrenheit(value: Decimal) -> Decimal:
    """Convert degrees Celsius to Fahrenheit for display, rounded half-up to 1 decimal."""
    _require_finite(value)
    with localcontext(_CONTEXT):
        return (value * 9 / 5 + 32).quantize(_TENTH, rounding=ROUND_HALF_UP)


def to_celsius(value: Decimal, unit: str) -> Decimal:
    """Return a temperature in degrees Celsius, rounded half-up to 2 decimals.

    ---
    `unit` is "C" or "F"; anything else raises ValueError.
    """
    if unit == "F":
        return fahrenheit_to_celsius(value)
    if unit == "C":
        _require_finite(value)
        with localcontext(_CONTEXT):
            return value.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)
    raise ValueError(f"unknown temperature unit: {unit!r} (expected 'C' or 'F')")
