"""The rule catalog (with sources) and each care team's versioned thresholds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from alerts.prompts import MESSAGES
from alerts.rules import DEFAULT_THRESHOLDS, RULES
from api.auth import current_user, roles_required
from api.extensions import db, utcnow
from api.teams import TEAM_ID, team_for
from models import thresholds
from models.users import Role
from schemas.rules import (
    RuleSchema,
    ThresholdsSchema,
    ThresholdsUpdateSchema,
    ThresholdVersionSchema,
)

blp = Blueprint("rules", __name__, url_prefix="/api/v1", description="Rules and thresholds")


def _strings(values: Any) -> dict[str, str]:
    return {key: str(value) for key, value in values.items()}


def thresholds_view(team_id: int) -> dict[str, Any]:
    """Describe the thresholds a team's reports are judged with now."""
    version, values = thresholds.current_thresholds(db.session, team_id)
    latest = thresholds.latest_set(db.session, team_id)
    return {
        "team_id": team_id,
        "version": version,
        "values": _strings(values),
        "overrides": dict(latest.overrides) if latest else {},
        "defaults": _strings(DEFAULT_THRESHOLDS),
        "created_at": latest.created_at if latest else None,
        "created_by_user_id": latest.created_by_user_id if latest else None,
    }


@blp.route("/rules")
class Rules(MethodView):
    @blp.response(200, RuleSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List every rule with its level, thresholds, messages and clinical source."""
        current_user()
        return [
            {
                "rule_id": rule.rule_id,
                "version": rule.version,
                "level": rule.level,
                "kind": rule.kind,
                "params": list(rule.params),
                "clinician_summary": rule.clinician_summary,
                "source": rule.source,
                "proposal": rule.proposal,
                "messages": dict(MESSAGES.get(rule.message_key, {})),
            }
            for rule in RULES
        ]


@blp.route(f"/teams/{TEAM_ID}/thresholds")
class TeamThresholds(MethodView):
    @roles_required(Role.CLINICIAN, Role.ADMIN)
    @blp.response(200, ThresholdsSchema)
    def get(self, team_id: int) -> dict[str, Any]:
        """Get the thresholds in force for a team, with the defaults beside them."""
        team_for(current_user(), team_id)
        return thresholds_view(team_id)

    @roles_required(Role.CLINICIAN)
    @blp.arguments(ThresholdsUpdateSchema)
    @blp.response(200, ThresholdsSchema)
    def put(self, data: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Set the team's thresholds (a new version; the overrides replace the previous ones)."""
        user = current_user()
        team_for(user, team_id)
        thresholds.set_thresholds(
            db.session,
            team_id=team_id,
            overrides=data["overrides"],
            by_user_id=user.user_id,
            now=utcnow(),
        )
        return thresholds_view(team_id)


@blp.route(f"/teams/{TEAM_ID}/thresholds/versions")
class TeamThresholdVersions(MethodView):
    @roles_required(Role.CLINICIAN, Role.ADMIN)
    @blp.response(200, ThresholdVersionSchema(many=True))
    def get(self, team_id: int) -> Any:
        """List every version of the team's thresholds, newest first, with who and when."""
        team_for(current_user(), team_id)
        return thresholds.threshold_history(db.session, team_id)
