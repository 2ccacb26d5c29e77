"""The audit trail: who read or changed which patient's data, when, in which request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class AuditEvent(Base):
    """One read or write of a patient's data (never the data itself)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_at", "patient_id", "at"),)

    event_id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.patient_id"))
    request_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")


def record_event(
    session: Session,
    *,
    action: str,
    patient_id: int | None,
    actor_user_id: int | None,
    actor_role: str | None,
    request_id: str | None,
    now: datetime,
    outcome: str = "ok",
) -> AuditEvent:
    """Append an audit event to the current transaction."""
    event = AuditEvent(
        at=now,
        actor_user_id=actor_user_id,
        actor_role=actor_role,
        action=action,
        patient_id=patient_id,
        request_id=request_id,
        outcome=outcome,
    )
    session.add(event)
    return event


def patient_audit_query(patient_id: int):  # type: ignore[no-untyped-def]
    """Select a patient's audit events, newest first."""
    return (
        select(AuditEvent)
        .where(AuditEvent.patient_id == patient_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.event_id.desc())
    )


def count_events(session: Session) -> int:
    """Count all audit events."""
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
