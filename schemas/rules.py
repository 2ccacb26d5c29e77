"""The rule catalog and team thresholds."""

from __future__ import annotations

from marshmallow import Schema, fields


class RuleSchema(Schema):
    rule_id = fields.String()
    version = fields.Integer()
    level = fields.String()
    kind = fields.String()
    params = fields.List(fields.String(), metadata={"description": "Thresholds the rule reads"})
    clinician_summary = fields.String()
    source = fields.String(metadata={"description": "Guideline and section (clinical reference)"})
    proposal = fields.Boolean(metadata={"description": "A default to be confirmed clinically"})
    messages = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Patient advice by language"},
    )


class ThresholdsSchema(Schema):
    team_id = fields.Integer()
    version = fields.Integer(metadata={"description": "0 = the defaults, never changed"})
    values = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Every threshold in force, as exact decimals"},
    )
    overrides = fields.Dict(keys=fields.String(), values=fields.String())
    defaults = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.AwareDateTime(allow_none=True)
    created_by_user_id = fields.Integer(allow_none=True)


class ThresholdsUpdateSchema(Schema):
    overrides = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={
            "description": 'Thresholds that differ from the defaults, e.g. {"fever_c": 38.3}'
        },
    )


class ThresholdVersionSchema(Schema):
    version = fields.Integer()
    overrides = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.AwareDateTime()
    created_by_user_id = fields.Integer()
