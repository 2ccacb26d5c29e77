"""Caregiver invitations and links."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.auth import TokenSchema
from schemas.fields import Text, code_field, email_field, password_field, required_text

RELATIONSHIP = Text(allow_none=True, validate=validate.Length(min=1, max=60))


class CaregiverSchema(Schema):
    user_id = fields.Integer()
    display_name = fields.String()
    email = fields.Email()


class CaregiverLinkSchema(Schema):
    link_id = fields.Integer()
    patient_id = fields.Integer()
    caregiver = fields.Nested(CaregiverSchema)
    relationship = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    revoked_at = fields.AwareDateTime(allow_none=True)
    is_active = fields.Boolean()


class AcceptInvitationSchema(Schema):
    code = code_field()
    relationship = Text(allow_none=True, validate=validate.Length(min=1, max=60))


class CaregiverSignupSchema(AcceptInvitationSchema):
    email = email_field(required=True)
    password = password_field()
    display_name = required_text(120)


class CaregiverSignupResultSchema(Schema):
    tokens = fields.Nested(TokenSchema, required=True)
    link = fields.Nested(CaregiverLinkSchema, required=True)
