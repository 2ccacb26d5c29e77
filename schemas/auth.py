"""Login, tokens and account activation."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.fields import code_field, email_field, password_field, required_text


class LoginSchema(Schema):
    email = email_field(required=True)
    password = password_field()


class RefreshSchema(Schema):
    refresh_token = required_text(4096, load_only=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    user_id = fields.Integer(required=True)
    role = fields.String(required=True)


class ActivateSchema(Schema):
    code = code_field()
    email = email_field(required=True)
    password = password_field()


class UserSchema(Schema):
    user_id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    role = fields.String(dump_only=True)
    display_name = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class MeSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    patient_id = fields.Integer(
        allow_none=True, metadata={"description": "Set for a patient login"}
    )
