"""Daily reports: the body the phone sends, and what it gets back.

---
Plausibility ranges below are wide on purpose: they reject typing errors and wrong units (38 given
as °F), never a dangerous but real reading. Clinical thresholds live in alerts/rules.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from alerts.catalog import SEVERITY_MAX, SEVERITY_MIN, SYMPTOM_CODES
from alerts.units import to_celsius
from schemas.fields import Text

# Per unit, the readings a home thermometer can honestly give.
TEMPERATURE_RANGE = {
    "C": (Decimal("30.0"), Decimal("45.0")),
    "F": (Decimal("86.0"), Decimal("113.0")),
}


def exact(value: float) -> Decimal:
    """Return the decimal a person typed: 100.4 stays 100.4, not 100.400000000000005684..."""
    return Decimal(repr(value))


def whole(minimum: int, maximum: int, description: str) -> fields.Integer:
    """Return an optional integer measurement within a plausibility range."""
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=minimum, max=maximum),
        metadata={"description": description},
    )


class TemperatureSchema(Schema):
    value = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=30, max=113),
        metadata={"description": "As read on the thermometer, at most 2 decimals", "example": 38.2},
    )
    unit = fields.String(required=True, validate=validate.OneOf(["C", "F"]))

    @validates("value")
    def _two_decimals(self, value: float, data_key: str, **kwargs: Any) -> None:
        exponent = exact(value).as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValidationError("At most 2 decimal places.")

    @validates_schema
    def _range_for_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high = TEMPERATURE_RANGE[data["unit"]]
        if not low <= exact(data["value"]) <= high:
            raise ValidationError(
                f"A body temperature in °{data['unit']} must be between {low} and {high}; "
                "check the unit.",
                "value",
            )


class SymptomSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(SYMPTOM_CODES))
    severity = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=SEVERITY_MIN, max=SEVERITY_MAX),
        metadata={"description": "0 none, 1 mild, 2 moderate, 3 severe, 4 very severe"},
    )


class IceSchema(Schema):
    """The caregiver's neuro check (ICE score items)."""

    orientation = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=4))
    naming = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=3))
    commands = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1))
    writing = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1))
    attention = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1))


class ReportInSchema(Schema):
    client_report_id = fields.UUID(
        required=True, metadata={"description": "Made by the phone; a retry reuses it"}
    )
    recorded_at = fields.AwareDateTime(
        required=True, metadata={"description": "When measured, ISO 8601 with offset"}
    )
    temperature = fields.Nested(TemperatureSchema, allow_none=True)
    heart_rate = whole(20, 300, "beats per minute")
    systolic_bp = whole(40, 300, "mmHg")
    diastolic_bp = whole(20, 200, "mmHg")
    spo2 = whole(40, 100, "oxygen saturation, %")
    symptoms = fields.List(
        fields.Nested(SymptomSchema),
        load_default=list,
        validate=validate.Length(max=len(SYMPTOM_CODES)),
        metadata={"description": "Assessed symptoms; a code left out was not assessed"},
    )
    ice = fields.Nested(IceSchema, allow_none=True)
    antipyretic_last_6h = fields.Boolean(
        allow_none=True,
        metadata={"description": "Paracetamol/acetaminophen or ibuprofen in the last 6 hours"},
    )
    note = Text(allow_none=True, validate=validate.Length(max=1000))

    @validates("symptoms")
    def _each_code_once(self, value: list[dict[str, Any]], data_key: str, **kwargs: Any) -> None:
        codes = [item.get("code") for item in value]
        if len(set(codes)) != len(codes):
            raise ValidationError("Each symptom code may appear once.")

    @validates_schema
    def _pressure_pair(self, data: dict[str, Any], **kwargs: Any) -> None:
        systolic, diastolic = data.get("systolic_bp"), data.get("diastolic_bp")
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            raise ValidationError("Must be lower than the systolic pressure.", "diastolic_bp")

    @post_load
    def _to_si(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Convert the temperature to °C once, here; keep what the person entered for display."""
        temperature = data.pop("temperature", None)
        if "client_report_id" in data:
            data["client_report_id"] = str(data["client_report_id"])
        if temperature is not None:
            entered = exact(temperature["value"])
            data["temperature_c"] = to_celsius(entered, temperature["unit"])
            data["temperature_entered"] = entered
            data["temperature_unit"] = temperature["unit"]
        return data


class TemperatureOutSchema(Schema):
    value = fields.Float(metadata={"description": "As entered"})
    unit = fields.String()
    celsius = fields.Float(metadata={"description": "Converted, rounded half-up to 0.01"})


class IceOutSchema(IceSchema):
    total = fields.Integer()


class ReportSchema(Schema):
    report_id = fields.Integer()
    patient_id = fields.Integer()
    client_report_id = fields.String()
    reporter_user_id = fields.Integer()
    reporter_role = fields.String()
    recorded_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
    day_since_infusion = fields.Integer()
    temperature = fields.Method("_temperature", metadata={"type": "object"})
    heart_rate = fields.Integer(allow_none=True)
    systolic_bp = fields.Integer(allow_none=True)
    diastolic_bp = fields.Integer(allow_none=True)
    spo2 = fields.Integer(allow_none=True)
    symptoms = fields.List(fields.Nested(SymptomSchema))
    ice = fields.Method("_ice", metadata={"type": "object"})
    antipyretic_last_6h = fields.Boolean(allow_none=True)
    note = fields.String(allow_none=True)
    level = fields.String()
    threshold_version = fields.Integer()

    def _temperature(self, report: Any) -> dict[str, Any] | None:
        if report.temperature_c is None:
            return None
        return TemperatureOutSchema().dump(
            {
                "value": report.temperature_entered,
                "unit": report.temperature_unit,
                "celsius": report.temperature_c,
            }
        )

    def _ice(self, report: Any) -> dict[str, Any] | None:
        if not report.ice:
            return None
        return IceOutSchema().dump(dict(report.ice, total=report.ice_total))


class FlagBriefSchema(Schema):
    flag_id = fields.Integer()
    rule_id = fields.String()
    rule_version = fields.Integer()
    level = fields.String()
    threshold_version = fields.Integer()
    inputs = fields.Dict(metadata={"description": "The values that triggered the rule"})
    status = fields.String()
    is_new = fields.Boolean(metadata={"description": "false when the report joined an open flag"})
    occurrences = fields.Integer()
    raised_at = fields.AwareDateTime()
    data_recorded_at = fields.AwareDateTime()
    data_age_seconds = fields.Integer(metadata={"description": "How late the data arrived"})


class PromptSchema(Schema):
    level = fields.String(metadata={"description": "none, watch, urgent or emergency"})
    action = fields.String(
        metadata={"description": "call_emergency, call_care_team, recheck, none"}
    )
    message = fields.String(metadata={"description": "In the patient's language"})
    phone = fields.String(allow_none=True, metadata={"description": "The care team's 24/7 number"})
    recheck_in_minutes = fields.Integer(allow_none=True)
    recheck_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class IntakeSchema(Schema):
    report = fields.Nested(ReportSchema, required=True)
    flags = fields.List(fields.Nested(FlagBriefSchema), required=True)
    prompt = fields.Nested(PromptSchema, required=True)


class ReportQueryArgsSchema(Schema):
    since = fields.AwareDateTime(metadata={"description": "recorded at or after"})
    until = fields.AwareDateTime(metadata={"description": "recorded before"})


class SummaryQueryArgsSchema(Schema):
    from_day = fields.Integer(strict=False, validate=validate.Range(min=-30, max=3650))
    to_day = fields.Integer(strict=False, validate=validate.Range(min=-30, max=3650))


class DaySummarySchema(Schema):
    day = fields.Integer(metadata={"description": "Days since infusion (day 0)"})
    reports = fields.Integer()
    level = fields.String(metadata={"description": "Highest level of the day's reports"})
    max_temperature_c = fields.Float(allow_none=True)
    min_spo2 = fields.Integer(allow_none=True)
    min_systolic_bp = fields.Integer(allow_none=True)
    max_heart_rate = fields.Integer(allow_none=True)
    min_ice_total = fields.Integer(allow_none=True)
    symptoms = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Worst severity of each symptom reported"},
    )
