"""The worklist, flags and their handling."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from alerts.flags import Outcome
from schemas.fields import Phone, Text, id_field
from schemas.reports import DaySummarySchema, ReportSchema

LEVELS = ["watch", "urgent", "emergency"]
STATUSES = ["open", "acknowledged", "resolved"]
TARGET_KEYS = {
    "webhook": ("url", "secret"),
    "email": ("address",),
    "sms": ("number",),
    "push": ("device_token",),
}


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
    number = Phone(load_only=True, metadata={"description": "sms: international format"})
    device_token = Text(load_only=True, validate=validate.Length(min=1, max=4096))
    destination = fields.String(
        dump_only=True, metadata={"description": "Where it goes (secrets hidden)"}
    )
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)

    @validates_schema
    def _complete_for_its_channel(self, data: dict[str, Any], **kwargs: Any) -> None:
        keys = TARGET_KEYS[data["channel"]]
        missing = {k: ["Required for this channel."] for k in keys if not data.get(k)}
        if missing:
            raise ValidationError(missing)
        if data["channel"] == "webhook" and not is_safe_webhook_url(data["url"]):
            # Webhooks carry clinical data.
            raise ValidationError("Use https:// (http only to a loopback host).", "url")

    @post_load
    def _target(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Keep what the channel needs, as the target the dispatcher will send to."""
        keys = TARGET_KEYS[data["channel"]]
        target = {k: str(data[k]) for k in keys}
        return {"channel": data["channel"], "label": data["label"], "target": target}


def is_safe_webhook_url(url: str) -> bool:
    """Tell whether a webhook URL is https, or http to this machine (local receivers)."""
    parsed = urlsplit(url)
    return parsed.scheme == "https" or parsed.hostname in {"127.0.0.1", "localhost", "::1"}


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
