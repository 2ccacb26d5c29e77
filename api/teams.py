"""Care teams and their members."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import current_user, roles_required
from api.extensions import db, utcnow
from models import teams
from models.errors import NotFoundError
from models.teams import CareTeam, TeamMember
from models.users import Role, User
from schemas.teams import (
    TeamMemberCreateSchema,
    TeamSchema,
    TeamUpdateSchema,
    TeamWithMembersSchema,
)

blp = Blueprint("teams", __name__, url_prefix="/api/v1/teams", description="Care teams")
TEAM_ID = "<int(max=2147483647):team_id>"


def team_for(user: User, team_id: int, field: str | None = None) -> CareTeam:
    """Return a team the caller may work with: admins every team, clinicians their own.

    ---
    Any other team is "not found"; ``field`` names the request field that gave the id.
    """
    team = db.session.get(teams.CareTeam, team_id)
    if team is not None and (
        user.role == Role.ADMIN
        or (
            user.role == Role.CLINICIAN
            and teams.is_member(db.session, team_id=team_id, user_id=user.user_id)
        )
    ):
        return team
    raise NotFoundError(
        "Care team not found.", {field: ["Not one of your teams."]} if field else None
    )


def _with_members(team: CareTeam) -> dict[str, Any]:
    return team.fields() | {"members": teams.team_members(db.session, team.team_id)}


@blp.route("")
class Teams(MethodView):
    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.response(200, TeamSchema(many=True))
    def get(self) -> list[CareTeam]:
        """List care teams: all for an admin, their own for a clinician."""
        user = current_user()
        query = select(CareTeam).order_by(CareTeam.name)
        if user.role != Role.ADMIN:
            query = query.join(TeamMember).where(TeamMember.user_id == user.user_id)
        return list(db.session.scalars(query))

    @roles_required(Role.ADMIN)
    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    def post(self, data: dict[str, Any]) -> CareTeam:
        """Create a care team."""
        return teams.create_team(db.session, data=data, now=utcnow())


@blp.route(f"/{TEAM_ID}")
class TeamById(MethodView):
    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.response(200, TeamWithMembersSchema)
    def get(self, team_id: int) -> dict[str, Any]:
        """Get a care team with its members."""
        return _with_members(team_for(current_user(), team_id))

    @roles_required(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(TeamUpdateSchema(partial=True))
    @blp.response(200, TeamSchema)
    def patch(self, data: dict[str, Any], team_id: int) -> CareTeam:
        """Change a team's name, 24/7 number or on-call contact (admins and members)."""
        team = team_for(current_user(), team_id)
        return teams.update_team(db.session, team, changes=data, now=utcnow())


@blp.route(f"/{TEAM_ID}/members")
class TeamMembers(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(TeamMemberCreateSchema)
    @blp.response(201, TeamWithMembersSchema)
    def post(self, data: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Add a clinician to a team."""
        team = teams.get_team(db.session, team_id)
        teams.add_member(db.session, team, user_id=data["user_id"], now=utcnow())
        return _with_members(team)


@blp.route(f"/{TEAM_ID}/members/<int(max=2147483647):user_id>")
class TeamMemberById(MethodView):
    @roles_required(Role.ADMIN)
    @blp.response(204)
    def delete(self, team_id: int, user_id: int) -> None:
        """Remove a clinician from a team."""
        teams.remove_member(db.session, teams.get_team(db.session, team_id), user_id=user_id)
