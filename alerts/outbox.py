"""The dispatcher: claim due outbox rows, send them through their channel, record what happened.

---
Claiming and recording are two short transactions with the sending in between, outside any
transaction, so a slow receiver never holds a lock. Failures back off exponentially; after the
last attempt, or at once for a permanent failure, the row is dead-lettered for an admin to see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts.channels import Channel, DeliveryError, Message
from models.outbox import OutboxMessage, claim_due, mark_sent

log = logging.getLogger("cartwatch.outbox")


@dataclass(frozen=True)
class DispatchSettings:
    """Retry policy of the dispatcher."""

    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 10
    first_retry: timedelta = timedelta(seconds=5)
    longest_retry: timedelta = timedelta(minutes=5)

    def retry_after(self, attempts: int) -> timedelta:
        """Return the wait before the next attempt: 5 s, 10 s, 20 s, ... up to 5 minutes."""
        doubled: timedelta = self.first_retry * float(2 ** max(attempts - 1, 0))
        return min(doubled, self.longest_retry)


@dataclass
class DispatchCounts:
    """What one dispatch pass did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead


def _message(row: OutboxMessage) -> Message:
    return Message(
        delivery_id=row.delivery_id,
        kind=row.kind,
        subject=row.subject,
        text=row.text,
        payload=dict(row.payload) | {"delivery_id": row.delivery_id},
        created_at=row.created_at,
    )


def dispatch_once(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    settings: DispatchSettings = DispatchSettings(),
) -> DispatchCounts:
    """Send one batch of due messages; return the counts."""
    with sessions() as session:
        rows = claim_due(session, now=now, lease_until=now + settings.lease, limit=settings.batch)
        work = [(row.outbox_id, row.channel, dict(row.target), row) for row in rows]
        session.expunge_all()
        session.commit()
    outcomes: dict[int, DeliveryError | None] = {}
    for outbox_id, channel_name, target, row in work:
        channel = channels.get(channel_name)
        try:
            if channel is None:
                raise DeliveryError(f"channel {channel_name!r} is not configured", permanent=True)
            channel.send(target, _message(row))
            outcomes[outbox_id] = None
        except DeliveryError as error:
            outcomes[outbox_id] = error
        except Exception as error:  # one broken row must not stop the batch
            log.exception("unexpected error sending outbox row %s", outbox_id)
            outcomes[outbox_id] = DeliveryError(type(error).__name__)
    counts = DispatchCounts()
    if not outcomes:
        return counts
    sent = [outbox_id for outbox_id, failure in outcomes.items() if failure is None]
    failed = {outbox_id: f for outbox_id, f in outcomes.items() if f is not None}
    with sessions() as session:
        mark_sent(session, sent, now)
        counts.sent = len(sent)
        for outbox_id, failure in failed.items():
            stored = session.get(OutboxMessage, outbox_id)
            if stored is not None:
                _record_failure(stored, failure, now, settings, counts)
        session.commit()
    return counts


def _record_failure(
    row: OutboxMessage,
    failure: DeliveryError,
    now: datetime,
    settings: DispatchSettings,
    counts: DispatchCounts,
) -> None:
    row.last_error = str(failure)[:500]
    if failure.permanent or row.attempts >= settings.max_attempts:
        row.status = "dead"
        counts.dead += 1
        # The id and channel only: targets and texts may carry health data.
        log.error(
            "outbox row %s dead after %s attempts (%s)", row.outbox_id, row.attempts, row.channel
        )
    else:
        wait = settings.retry_after(row.attempts)
        if failure.retry_after is not None:  # the receiver said when (Retry-After)
            wait = min(max(wait, timedelta(seconds=failure.retry_after)), settings.longest_retry)
        row.next_attempt_at = now + wait
        counts.retried += 1
    counts.errors.append(f"{row.outbox_id}: {row.last_error}")


def dispatch_due(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    *,
    now: Callable[[], datetime],
    settings: DispatchSettings = DispatchSettings(),
    max_batches: int = 20,
) -> DispatchCounts:
    """Send batches until nothing is due (bounded), taking a fresh ``now`` per batch."""
    total = DispatchCounts()
    for _ in range(max_batches):
        counts = dispatch_once(sessions, channels, now=now(), settings=settings)
        total.sent += counts.sent
        total.retried += counts.retried
        total.dead += counts.dead
        total.errors += counts.errors
        if counts.handled < settings.batch:
            break
    return total
