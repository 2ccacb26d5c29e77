"""Care teams and their members."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.auth import UserSchema
from schemas.fields import Phone, Text, email_field, id_field, required_text


class TeamSchema(Schema):
    team_id = fields.Integer(dump_only=True)
    name = required_text(120)
    phone = Phone(required=True, metadata={"description": "The team's 24/7 number"})
    on_call_name = Text(allow_none=True, validate=validate.Length(min=1, max=120))
    on_call_phone = Phone(allow_none=True)
    on_call_email = email_field(allow_none=True)
    fallback_name = Text(allow_none=True, validate=validate.Length(min=1, max=120))
    fallback_phone = Phone(allow_none=True)
    fallback_email = email_field(allow_none=True)
    escalate_emergency_minutes = fields.Integer(
        strict=True,
        load_default=5,
        validate=validate.Range(min=1, max=60),
        metadata={"description": "Unacknowledged emergency flags escalate after this"},
    )
    escalate_urgent_minutes = fields.Integer(
        strict=True,
        load_default=15,
        validate=validate.Range(min=1, max=240),
        metadata={"description": "Unacknowledged urgent flags escalate after this"},
    )
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class TeamUpdateSchema(TeamSchema):
    """Changes to a team; used with partial=True (no defaults: omitted fields stay)."""

    escalate_emergency_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=60))
    escalate_urgent_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=240))


class TeamMemberCreateSchema(Schema):
    user_id = id_field(required=True)


class TeamWithMembersSchema(TeamSchema):
    members = fields.List(fields.Nested(UserSchema), dump_only=True)
