"""Enrolment and the patient record."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from models.patients import PatientStatus, Product
from schemas.fields import Text, TimeZone, id_field, required_text

CHECKIN_TIME = validate.Regexp(
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="Use 24-hour HH:MM, for example 08:30."
)


class PatientSchema(Schema):
    patient_id = fields.Integer(dump_only=True)
    team_id = id_field(required=True)
    display_name = required_text(120)
    mrn = Text(allow_none=True, validate=validate.Length(min=1, max=40))
    date_of_birth = fields.Date(required=True)
    timezone = TimeZone(required=True)
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "es"]))
    temperature_unit = fields.String(load_default="C", validate=validate.OneOf(["C", "F"]))
    product = fields.String(required=True, validate=validate.OneOf([p.value for p in Product]))
    infusion_date = fields.Date(required=True)
    monitoring_days = fields.Integer(
        strict=True,
        load_default=28,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Days of daily monitoring from the infusion (day 0)"},
    )
    checkin_times = fields.List(
        fields.String(validate=CHECKIN_TIME),
        load_default=lambda: ["09:00", "21:00"],
        validate=validate.Length(min=1, max=6),
        metadata={"description": "Daily check-in times in the patient's own time zone"},
    )
    ice_baseline = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=10),
        metadata={"description": "ICE score at enrolment (10 is normal)"},
    )
    status = fields.String(dump_only=True)
    has_login = fields.Method("_has_login", dump_only=True)
    enrolled_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)

    def _has_login(self, patient: Any) -> bool:
        return patient.user_id is not None

    @validates("checkin_times")
    def _distinct_times(self, value: list[str], data_key: str, **kwargs: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Each check-in time may appear once.")

    @post_load
    def _sort_times(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "checkin_times" in data:
            data["checkin_times"] = sorted(data["checkin_times"])
        return data


class PatientUpdateSchema(PatientSchema):
    """Changes to an enrolment, used with partial=True. The team cannot change here."""

    class Meta:
        exclude = ("team_id",)

    status = fields.String(validate=validate.OneOf([s.value for s in PatientStatus]))
    # No defaults on update: an omitted field stays as it is.
    language = fields.String(validate=validate.OneOf(["en", "es"]))
    temperature_unit = fields.String(validate=validate.OneOf(["C", "F"]))
    monitoring_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))
    checkin_times = fields.List(
        fields.String(validate=CHECKIN_TIME), validate=validate.Length(min=1, max=6)
    )


class PatientQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in PatientStatus]))
    team_id = id_field()


class CodeSchema(Schema):
    code = fields.String(
        required=True, metadata={"description": "Shown once; give it to the person"}
    )
    expires_at = fields.AwareDateTime(required=True)


class EnrolmentSchema(Schema):
    patient = fields.Nested(PatientSchema, required=True)
    activation = fields.Nested(CodeSchema, required=True)
