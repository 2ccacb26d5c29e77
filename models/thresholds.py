"""Per-team rule thresholds, versioned: every change is a new version with who and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from alerts.rules import DEFAULT_THRESHOLDS, ThresholdError, validate_thresholds
from models.base import Base
from models.errors import InvalidInputError

DEFAULT_VERSION = 0


class ThresholdSet(Base):
    """One version of a team's thresholds (the team's overrides of the defaults)."""

    __tablename__ = "threshold_sets"
    __table_args__ = (
        UniqueConstraint("team_id", "version", name="uq_threshold_sets_team_version"),
    )

    threshold_set_id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.team_id"), index=True)
    version: Mapped[int]
    overrides: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))


def latest_set(session: Session, team_id: int) -> ThresholdSet | None:
    """Return the team's newest threshold version, if it ever changed the defaults."""
    return session.scalars(
        select(ThresholdSet)
        .where(ThresholdSet.team_id == team_id)
        .order_by(ThresholdSet.version.desc())
        .limit(1)
    ).first()


def current_thresholds(session: Session, team_id: int) -> tuple[int, dict[str, Decimal]]:
    """Return the version and the full thresholds the team's reports are judged with."""
    latest = latest_set(session, team_id)
    if latest is None:
        return DEFAULT_VERSION, dict(DEFAULT_THRESHOLDS)
    return latest.version, validate_thresholds(latest.overrides)


def set_thresholds(
    session: Session,
    *,
    team_id: int,
    overrides: Mapping[str, object],
    by_user_id: int,
    now: datetime,
) -> ThresholdSet:
    """Store a new version of the team's thresholds (the overrides replace the previous ones)."""
    try:
        merged = validate_thresholds(overrides)
    except ThresholdError as error:
        raise InvalidInputError("Thresholds not accepted.", {"overrides": error.errors}) from error
    latest = latest_set(session, team_id)
    changed = {key: str(value) for key, value in merged.items() if value != DEFAULT_THRESHOLDS[key]}
    version = ThresholdSet(
        team_id=team_id,
        version=(latest.version if latest else DEFAULT_VERSION) + 1,
        overrides=changed,
        created_at=now,
        created_by_user_id=by_user_id,
    )
    session.add(version)
    session.flush()
    return version


def threshold_history(session: Session, team_id: int) -> list[ThresholdSet]:
    """List every version of a team's thresholds, newest first."""
    return list(
        session.scalars(
            select(ThresholdSet)
            .where(ThresholdSet.team_id == team_id)
            .order_by(ThresholdSet.version.desc())
        )
    )
