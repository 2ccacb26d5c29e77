"""Accounts created by an admin (clinicians and other admins)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import email_field, password_field, required_text


class UserCreateSchema(Schema):
    email = email_field(required=True)
    password = password_field()
    display_name = required_text(120)
    role = fields.String(required=True, validate=validate.OneOf(["clinician", "admin"]))


class UserQueryArgsSchema(Schema):
    role = fields.String(validate=validate.OneOf(["patient", "caregiver", "clinician", "admin"]))
