"""Flags: what the rules raised, for the care team to see, acknowledge and resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Select, String, Text, case, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class Flag(Base):
    """An alert about a patient raised by one rule; later firings of the rule may join it."""

    __tablename__ = "flags"
    __table_args__ = (
        Index("ix_flags_patient_rule_status", "patient_id", "rule_id", "status"),
        # The escalation sweep reads only what is due.
        Index("ix_flags_next_escalation_at", "next_escalation_at"),
        CheckConstraint("level IN ('watch', 'urgent', 'emergency')", name="level"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
    )

    flag_id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.patient_id"))
    rule_id: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int]
    level: Mapped[str] = mapped_column(String(10))
    threshold_version: Mapped[int]
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(14), default="open")
    # A missed check-in is a flag without a report.
    first_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.report_id"))
    last_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.report_id"))
    occurrences: Mapped[int] = mapped_column(default=1)
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    data_recorded_at: Mapped[datetime | None]
    escalation_step: Mapped[int] = mapped_column(default=0)
    next_escalation_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"))
    resolved_at: Mapped[datetime | None]
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class ReportFinding(Base):
    """One rule firing on one report, with what triggered it, and the flag it raised or joined."""

    __tablename__ = "report_findings"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.report_id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule_version: Mapped[int]
    level: Mapped[str] = mapped_column(String(10))
    threshold_version: Mapped[int]
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.flag_id"), index=True)


class FlagEscalation(Base):
    """One escalation of an unacknowledged flag: when, which step, who was notified."""

    __tablename__ = "flag_escalations"

    escalation_id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    step: Mapped[int]
    at: Mapped[datetime]
    notified: Mapped[list[str]] = mapped_column(JSON)


def open_flags(
    session: Session, patient_id: int, rule_ids: list[str], since: datetime
) -> dict[str, Flag]:
    """Return the patient's unacknowledged flags of these rules last seen at or after ``since``."""
    found: dict[str, Flag] = {}
    for flag in session.scalars(
        select(Flag)
        .where(
            Flag.patient_id == patient_id,
            Flag.rule_id.in_(rule_ids),
            Flag.status == "open",
            Flag.last_seen_at >= since,
        )
        .order_by(Flag.last_seen_at)
    ):
        found[flag.rule_id] = flag  # the latest one wins
    return found


def flags_of_report(session: Session, report_id: int) -> list[tuple[ReportFinding, Flag]]:
    """Return a report's findings with their flags, most severe first."""
    rows = session.execute(
        select(ReportFinding, Flag)
        .join(Flag, Flag.flag_id == ReportFinding.flag_id)
        .where(ReportFinding.report_id == report_id)
    )
    return [(finding, flag) for finding, flag in rows]


LEVEL_RANK = case({"emergency": 3, "urgent": 2, "watch": 1}, value=Flag.level, else_=0)


def worklist_query(
    patient_ids: Select[Any],
    *,
    levels: list[str] | None,
    statuses: list[str],
    patient_id: int | None,
) -> Select[Any]:
    """Select the flags of the given patients, most severe first, then oldest first."""
    query = select(Flag).where(Flag.patient_id.in_(patient_ids), Flag.status.in_(statuses))
    if levels:
        query = query.where(Flag.level.in_(levels))
    if patient_id is not None:
        query = query.where(Flag.patient_id == patient_id)
    return query.order_by(LEVEL_RANK.desc(), Flag.raised_at, Flag.flag_id)


def patient_flags(session: Session, patient_id: int, statuses: list[str]) -> list[Flag]:
    """Return a patient's flags, newest first."""
    return list(
        session.scalars(
            select(Flag)
            .where(Flag.patient_id == patient_id, Flag.status.in_(statuses))
            .order_by(Flag.raised_at.desc(), Flag.flag_id.desc())
        )
    )


def get_flag(session: Session, patient_id: int, flag_id: int) -> Flag | None:
    """Return one flag of a patient."""
    flag = session.get(Flag, flag_id)
    return flag if flag is not None and flag.patient_id == patient_id else None
