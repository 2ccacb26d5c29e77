"""The worklist, flags and their handling."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from alerts.flags import Outcome
from schemas.fields import Text, id_field
from schemas.reports import DaySummarySchema, ReportSchema

LEVELS = ["watch", "urgent", "emergency"]
STATUSES = ["open", "acknowledged", "resolved"]


class FlagSchema(Schema):
    flag_id = fields.Integer()
    patient_id = fields.Integer()
    rule_id = fields.String()
    rule_version = fields.Integer()
    level = fields.String()
    threshold_version = fields.Integer()
    inputs = fields.Dict()
    status = fields.String()
    occurrences = fields.Integer()
    raised_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()
    data_recorded_at = fields.AwareDateTime(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    acknowledged_by_user_id = fields.Integer(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolved_by_user_id = fields.Integer(allow_none=True)
    outcome = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)
    escalation_step = fields.Integer()
    next_escalation_at = fields.AwareDateTime(allow_none=True)


class RuleBriefSchema(Schema):
    clinician_summary = fields.String()
    source = fields.String()


class PatientBriefSchema(Schema):
    patient_id = fields.Integer()
    display_name = fields.String()
    mrn = fields.String(allow_none=True)
    product = fields.String()
    day_since_infusion = fields.Integer()
    last_report_at = fields.AwareDateTime(allow_none=True)


class WorklistItemSchema(FlagSchema):
    rule = fields.Nested(RuleBriefSchema)
    patient = fields.Nested(PatientBriefSchema)
    report = fields.Nested(
        ReportSchema, allow_none=True, metadata={"description": "The latest report of the flag"}
    )
    last_readings = fields.Nested(
        ReportSchema, allow_none=True, metadata={"description": "The patient's latest report"}
    )


class WorklistArgsSchema(Schema):
    level = fields.List(fields.String(validate=validate.OneOf(LEVELS)))
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES)),
        metadata={"description": "Default: open and acknowledged"},
    )
    patient_id = id_field()
    team_id = id_field()


class ResolveSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf([o.value for o in Outcome]))
    note = Text(allow_none=True, validate=validate.Length(max=2000))


class PatientFlagSchema(FlagSchema):
    status_message = fields.String(
        metadata={"description": "For the app: who saw it, when (local time)"}
    )


class CaregiverBriefSchema(Schema):
    user_id = fields.Integer()
    display_name = fields.String()
    relationship = fields.String(allow_none=True)


class ClinicalSummarySchema(Schema):
    patient = fields.Nested(PatientBriefSchema)
    status = fields.String()
    infusion_date = fields.Date()
    monitoring_days = fields.Integer()
    open_flags = fields.List(fields.Nested(FlagSchema))
    daily = fields.List(fields.Nested(DaySummarySchema))
    caregivers = fields.List(fields.Nested(CaregiverBriefSchema))


class NotificationTargetSchema(Schema):
    target_id = fields.Integer(dump_only=True)
    channel = fields.String(
        required=True, validate=validate.OneOf(["webhook", "email", "sms", "push"])
    )
    label = Text(required=True, validate=validate.Length(min=1, max=80))
    url = fields.Url(
        load_only=True,
        schemes={"http", "https"},
        require_tld=False,
        metadata={"description": "webhook: where to POST"},
    )
    secret = Text(
        load_only=True,
        validate=validate.Length(min=16, max=200),
        metadata={"description": "webhook: HMAC-SHA256 key (never shown again)"},
    )
    address = fields.Email(load_only=True, metadata={"description": "email: mailbox"})
    number = Text(
        load_only=True, validate=validate.Length(max=32), metadata={"description": "sms: E.164"}
    )
    device_token = Text(load_only=True, validate=validate.Length(min=1, max=4096))
    destination = fields.String(
        dump_only=True, metadata={"description": "Where it goes (secrets hidden)"}
    )
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class OutboxRowSchema(Schema):
    outbox_id = fields.Integer()
    delivery_id = fields.String()
    kind = fields.String()
    channel = fields.String()
    recipient = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.AwareDateTime()
    next_attempt_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    patient_id = fields.Integer(allow_none=True)
    flag_id = fields.Integer(allow_none=True)


class OutboxArgsSchema(Schema):
    status = fields.String(
        load_default="dead", validate=validate.OneOf(["pending", "sent", "dead"])
    )
