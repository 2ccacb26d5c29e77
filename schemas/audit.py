"""The audit trail."""

from __future__ import annotations

from marshmallow import Schema, fields


class AuditEventSchema(Schema):
    event_id = fields.Integer()
    at = fields.AwareDateTime()
    actor_user_id = fields.Integer(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    patient_id = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True)
    outcome = fields.String()
