"""The scheduled sweeps. Each opens its own session, works on what is due, commits, returns counts.

---
One failing item never stops a sweep: each runs in a savepoint, and a failure is logged by id
(never with health data) and left due, so the next sweep tries it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from alerts.channels import Channel
from alerts.checkins import (
    CheckinSettings,
    complete_monitoring,
    due_checkins,
    due_window_ends,
    step_checkin,
)
from alerts.flags import due_escalations, escalate_flag
from alerts.outbox import DispatchCounts, DispatchSettings, dispatch_due
from models.flags import Flag
from models.patients import Patient

log = logging.getLogger("cartwatch.jobs")
T = TypeVar("T")


def _sweep(
    sessions: Callable[[], Session],
    job: str,
    due: Callable[[Session], Iterable[T]],
    work: Callable[[Session, T], str],
    ident: Callable[[T], int],
) -> dict[str, int]:
    """Run ``work`` on each due item in its own savepoint; count the outcomes; commit once."""
    counts: dict[str, int] = {}
    with sessions() as session:
        for item in due(session):
            try:
                with session.begin_nested():
                    outcome = work(session, item)
            except Exception:
                log.exception("%s: item %s failed; it stays due", job, ident(item))
                outcome = "failed"
            counts[outcome] = counts.get(outcome, 0) + 1
        session.commit()
    return counts


def _flag_id(flag: Flag) -> int:
    return flag.flag_id


def _patient_id(patient: Patient) -> int:
    return patient.patient_id


def escalate_unacknowledged(
    sessions: Callable[[], Session], now: datetime, limit: int = 1000
) -> dict[str, int]:
    """Escalate every urgent or emergency flag whose acknowledgement deadline passed."""

    def escalate(session: Session, flag: Flag) -> str:
        escalate_flag(session, flag, now=now)
        return "escalated"

    return _sweep(
        sessions,
        "escalate-unacknowledged",
        lambda s: due_escalations(s, now, limit),
        escalate,
        _flag_id,
    )


def checkin_sweep(
    sessions: Callable[[], Session],
    now: datetime,
    settings: CheckinSettings = CheckinSettings(),
    limit: int = 5000,
) -> dict[str, int]:
    """Take every due check-in one step: remind the patient, the caregivers, then the team."""
    return _sweep(
        sessions,
        "checkin-reminders",
        lambda s: due_checkins(s, now, limit),
        lambda s, patient: step_checkin(s, patient, now, settings),
        _patient_id,
    )


def end_monitoring_windows(
    sessions: Callable[[], Session], now: datetime, limit: int = 5000
) -> dict[str, int]:
    """Move patients whose monitoring window closed to completed."""

    def complete(session: Session, patient: Patient) -> str:
        complete_monitoring(patient)
        return "completed"

    return _sweep(
        sessions, "end-monitoring", lambda s: due_window_ends(s, now, limit), complete, _patient_id
    )


def dispatch_outbox(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    now: Callable[[], datetime],
    settings: DispatchSettings = DispatchSettings(),
) -> DispatchCounts:
    """Send what is due in the outbox (retries included)."""
    return dispatch_due(sessions, channels, now=now, settings=settings)
