"""Care teams: their 24/7 number, on-call contact and clinician members."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.errors import ConflictError, InvalidInputError, NotFoundError
from models.users import Role, User


class CareTeam(Base):
    """A team that watches over its enrolled patients day and night."""

    __tablename__ = "care_teams"

    team_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    on_call_name: Mapped[str | None] = mapped_column(String(120))
    on_call_phone: Mapped[str | None] = mapped_column(String(20))
    on_call_email: Mapped[str | None] = mapped_column(String(254))
    fallback_name: Mapped[str | None] = mapped_column(String(120))
    fallback_phone: Mapped[str | None] = mapped_column(String(20))
    fallback_email: Mapped[str | None] = mapped_column(String(254))
    # Minutes an urgent or emergency flag may stay unacknowledged before escalation.
    escalate_emergency_minutes: Mapped[int] = mapped_column(default=5)
    escalate_urgent_minutes: Mapped[int] = mapped_column(default=15)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TeamMember(Base):
    """A clinician's membership of a care team."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.team_id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), primary_key=True, index=True)
    added_at: Mapped[datetime]


TEAM_FIELDS = (
    "name",
    "phone",
    "on_call_name",
    "on_call_phone",
    "on_call_email",
    "fallback_name",
    "fallback_phone",
    "fallback_email",
    "escalate_emergency_minutes",
    "escalate_urgent_minutes",
)


def get_team(session: Session, team_id: int) -> CareTeam:
    """Return a team or raise NotFoundError."""
    team = session.get(CareTeam, team_id)
    if team is None:
        raise NotFoundError("Care team not found.")
    return team


def _ensure_unique_name(session: Session, name: str, team_id: int | None) -> None:
    clash = session.scalars(select(CareTeam).where(CareTeam.name == name)).first()
    if clash is not None and clash.team_id != team_id:
        raise ConflictError("A care team with this name exists.", {"name": ["Already taken."]})


def create_team(session: Session, *, data: Mapping[str, Any], now: datetime) -> CareTeam:
    """Create a care team."""
    _ensure_unique_name(session, data["name"], None)
    team = CareTeam(
        created_at=now, updated_at=now, **{k: data[k] for k in TEAM_FIELDS if k in data}
    )
    session.add(team)
    session.flush()
    return team


def update_team(
    session: Session, team: CareTeam, *, changes: Mapping[str, Any], now: datetime
) -> CareTeam:
    """Change a team's name, numbers or on-call contact."""
    if "name" in changes:
        _ensure_unique_name(session, changes["name"], team.team_id)
    for key in TEAM_FIELDS:
        if key in changes:
            setattr(team, key, changes[key])
    team.updated_at = now
    session.flush()
    return team


def add_member(session: Session, team: CareTeam, *, user_id: int, now: datetime) -> User:
    """Make a clinician a member of a team."""
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInputError("No such user.", {"user_id": ["No such user."]})
    if user.role != Role.CLINICIAN:
        raise InvalidInputError(
            "Only clinicians can be team members.", {"user_id": ["Not a clinician."]}
        )
    if session.get(TeamMember, (team.team_id, user_id)) is None:
        session.add(TeamMember(team_id=team.team_id, user_id=user_id, added_at=now))
        session.flush()
    return user


def remove_member(session: Session, team: CareTeam, *, user_id: int) -> None:
    """Take a clinician off a team."""
    member = session.get(TeamMember, (team.team_id, user_id))
    if member is None:
        raise NotFoundError("This user is not a member of the team.")
    session.delete(member)
    session.flush()


def team_members(session: Session, team_id: int) -> list[User]:
    """List the clinicians of a team."""
    return list(
        session.scalars(
            select(User)
            .join(TeamMember, TeamMember.user_id == User.user_id)
            .where(TeamMember.team_id == team_id)
            .order_by(User.display_name, User.user_id)
        )
    )


def team_ids_of(session: Session, user_id: int) -> list[int]:
    """Return the ids of the teams a clinician belongs to."""
    return list(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)))


def is_member(session: Session, *, team_id: int, user_id: int) -> bool:
    """Tell whether a user belongs to a team."""
    return session.get(TeamMember, (team_id, user_id)) is not None
