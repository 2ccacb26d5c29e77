"""Where a team's alerts go (notification targets), and the dead letters admins must see."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from api.auth import current_user, roles_required
from api.extensions import db, utcnow
from api.pagination import page_of
from api.teams import TEAM_ID, team_for
from models import outbox
from models.errors import NotFoundError
from models.outbox import NotificationTarget, OutboxMessage
from models.users import Role
from schemas.flags import NotificationTargetSchema, OutboxArgsSchema, OutboxRowSchema

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications")


def target_view(row: NotificationTarget) -> dict[str, Any]:
    """Describe a target without its secret."""
    shown = {k: v for k, v in row.target.items() if k != "secret"}
    return {
        "target_id": row.target_id,
        "channel": row.channel,
        "label": row.label,
        "destination": ", ".join(f"{k}={v}" for k, v in shown.items()),
        "is_active": row.is_active,
        "created_at": row.created_at,
    }


@blp.route(f"/teams/{TEAM_ID}/notification-targets")
class Targets(MethodView):
    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.response(200, NotificationTargetSchema(many=True))
    def get(self, team_id: int) -> list[dict[str, Any]]:
        """List where this team's alerts go."""
        team_for(current_user(), team_id)
        return [target_view(t) for t in outbox.active_targets(db.session, team_id)]

    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(NotificationTargetSchema)
    @blp.response(201, NotificationTargetSchema)
    def post(self, data: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Add a webhook, mailbox, phone or device that receives this team's alerts."""
        team_for(current_user(), team_id)
        row = outbox.add_target(db.session, team_id=team_id, now=utcnow(), **data)
        return target_view(row)


@blp.route(f"/teams/{TEAM_ID}/notification-targets/<int(max=2147483647):target_id>")
class TargetById(MethodView):
    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.response(204)
    def delete(self, team_id: int, target_id: int) -> None:
        """Stop sending this team's alerts to a target."""
        team_for(current_user(), team_id)
        row = db.session.get(NotificationTarget, target_id)
        if row is None or row.team_id != team_id:
            raise NotFoundError("Notification target not found.")
        row.is_active = False


@blp.route("/outbox")
class Outbox(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(OutboxArgsSchema, location="query")
    @blp.response(200, OutboxRowSchema(many=True))
    @blp.paginate(page_size=50)
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List notifications by status; dead letters (given up after retries) by default."""
        return page_of(db.session, outbox.outbox_query(args["status"]), pagination_parameters)


@blp.route("/outbox/<int(max=2147483647):outbox_id>/retry")
class OutboxRetry(MethodView):
    @roles_required(Role.ADMIN)
    @blp.response(200, OutboxRowSchema)
    def post(self, outbox_id: int) -> OutboxMessage:
        """Queue a dead letter again (after fixing the target or the channel)."""
        row = db.session.get(OutboxMessage, outbox_id)
        if row is None or row.status != "dead":
            raise NotFoundError("No dead letter with this id.")
        return outbox.retry_message(row, utcnow())
