"""Temperature conversion: (F - 32) x 5/9, rounded half-up (clinical reference, section 5)."""

from decimal import Decimal

import pytest

from alerts.units import celsius_to_fahrenheit, fahrenheit_to_celsius, to_celsius


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [
        ("100.4", "38.00"),
        ("100.3", "37.94"),
        ("100.39", "37.99"),
        ("101.0", "38.33"),
        ("98.6", "37.00"),
        ("96.8", "36.00"),
        ("96.7", "35.94"),
        ("32", "0.00"),
        ("212", "100.00"),
        ("-40", "-40.00"),
        # 68.409 x 5/9 = 38.005 exactly: half-up gives 38.01 (half-even would give 38.00).
        ("100.409", "38.01"),
    ],
)
def test_fahrenheit_to_celsius_rounds_half_up_to_hundredths(fahrenheit, celsius):
    result = fahrenheit_to_celsius(Decimal(fahrenheit))
    assert result == Decimal(celsius)
    assert str(result) == celsius


@pytest.mark.parametrize(
    ("celsius", "fahrenheit"),
    [
        ("38.00", "100.4"),
        ("37.94", "100.3"),
        ("37.00", "98.6"),
        ("0", "32.0"),
        ("-40", "-40.0"),
        # 37.25 C = 99.05 F exactly: half-up gives 99.1 (half-even would give 99.0).
        ("37.25", "99.1"),
    ],
)
def test_celsius_to_fahrenheit_rounds_half_up_to_tenths(celsius, fahrenheit):
    result = celsius_to_fahrenheit(Decimal(celsius))
    assert str(result) == fahrenheit


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("38", "C", "38.00"),
        ("37.985", "C", "37.99"),
        ("37.994", "C", "37.99"),
        ("37.995", "C", "38.00"),
        ("100.4", "F", "38.00"),
        ("100.3", "F", "37.94"),
    ],
)
def test_to_celsius_returns_hundredths_for_both_units(value, unit, expected):
    assert str(to_celsius(Decimal(value), unit)) == expected


@pytest.mark.parametrize("unit", ["K", "c", "f", "Cel", "[degF]", "", "celsius"])
def test_to_celsius_rejects_any_other_unit(unit):
    with pytest.raises(ValueError, match="unit"):
        to_celsius(Decimal("38"), unit)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
@pytest.mark.parametrize(
    "convert",
    [fahrenheit_to_celsius, celsius_to_fahrenheit, lambda v: to_celsius(v, "C")],
    ids=["f_to_c", "c_to_f", "to_celsius_c"],
)
def test_conversion_rejects_a_non_finite_value(convert, value):
    with pytest.raises(ValueError):
        convert(value)


def test_conversion_ignores_the_ambient_decimal_context():
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_FLOOR
        assert fahrenheit_to_celsius(Decimal("100.409")) == Decimal("38.01")
        assert to_celsius(Decimal("37.995"), "C") == Decimal("38.00")
