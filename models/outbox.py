"""The transactional outbox: every notification to send, written in the transaction that caused it.

---
A row is claimed by pushing its ``next_attempt_at`` forward by a lease (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so that dispatchers on several workers never take the same row). A dispatcher that
dies mid-send leaves the row to be claimed again when the lease runs out: delivery is at least
once, and receivers de-duplicate on ``delivery_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from models.base import Base
from models.flags import Flag


class OutboxMessage(Base):
    """One notification to one target through one channel."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status"),
    )

    outbox_id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[dict[str, str]] = mapped_column(JSON)
    recipient: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.patient_id"))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class NotificationTarget(Base):
    """Where a care team wants its alerts: a webhook, a mailbox, a phone, a device."""

    __tablename__ = "notification_targets"

    target_id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.team_id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[dict[str, str]] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String(80))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


PENDING = "cartwatch.outbox.pending"


def add_message(
    session: Session,
    *,
    kind: str,
    channel: str,
    target: dict[str, str],
    recipient: str,
    subject: str,
    text: str,
    payload: dict[str, Any],
    now: datetime,
    patient_id: int | None = None,
    flag: Flag | None = None,
) -> str:
    """Queue a notification in the current transaction; return its delivery id.

    ---
    Rows wait in the session and are written in one INSERT by ``write_pending`` (at the end of
    the use case or sweep, and at the latest just before the commit), so a sweep that alerts a
    thousand people costs one statement. The flag must already have its id.
    """
    if flag is not None and flag.flag_id is None:
        raise ValueError("flush the flag before queueing a message about it")
    delivery_id = str(uuid.uuid4())
    session.info.setdefault(PENDING, []).append(
        {
            "delivery_id": delivery_id,
            "kind": kind,
            "channel": channel,
            "target": target,
            "recipient": recipient,
            "subject": subject,
            "text": text,
            "payload": payload,
            "patient_id": patient_id,
            "flag_id": flag.flag_id if flag is not None else None,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
    )
    session.info["outbox_added"] = True
    return delivery_id


def write_pending(session: Session) -> int:
    """Write the queued messages of this session in one INSERT; return how many."""
    rows = session.info.pop(PENDING, None)
    if rows:
        session.execute(insert(OutboxMessage), rows)
    return len(rows or ())


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    # The safety net: whatever a use case queued is written inside its own transaction.
    if session.info.get(PENDING):
        session.flush()
        write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: Any) -> None:
    # Messages not yet written belong to the work that was just rolled back (every sweep
    # writes them at the end of each savepoint that succeeds).
    session.info.pop(PENDING, None)


def claim_due(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for this dispatcher until ``lease_until``."""
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.outbox_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if rows:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.outbox_id.in_([row.outbox_id for row in rows]))
            .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        for row in rows:
            set_committed_value(row, "attempts", row.attempts + 1)
            set_committed_value(row, "next_attempt_at", lease_until)
    return rows


def mark_sent(session: Session, outbox_ids: list[int], now: datetime) -> None:
    """Record that these messages were delivered, in one UPDATE."""
    if outbox_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.outbox_id.in_(outbox_ids))
            .values(status="sent", sent_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )


def active_targets(session: Session, team_id: int) -> list[NotificationTarget]:
    """Return a team's active notification targets."""
    return list(
        session.scalars(
            select(NotificationTarget)
            .where(NotificationTarget.team_id == team_id, NotificationTarget.is_active.is_(True))
            .order_by(NotificationTarget.target_id)
        )
    )


def add_target(
    session: Session,
    *,
    team_id: int,
    channel: str,
    target: dict[str, str],
    label: str,
    now: datetime,
) -> NotificationTarget:
    """Add a place where a team receives its alerts."""
    row = NotificationTarget(
        team_id=team_id, channel=channel, target=target, label=label, is_active=True, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def outbox_query(status: str) -> Select[Any]:
    """Select outbox rows of a status, newest first."""
    return (
        select(OutboxMessage)
        .where(OutboxMessage.status == status)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.outbox_id.desc())
    )


def retry_message(row: OutboxMessage, now: datetime) -> OutboxMessage:
    """Put a dead-lettered message back in the queue, with a fresh set of attempts."""
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, None
    return row
