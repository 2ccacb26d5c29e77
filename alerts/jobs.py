"""The scheduled sweeps. Each opens its own session, works on what is due, commits, returns counts.

---
One failing item never stops a sweep: each runs in a savepoint, and a failure is logged by id
(never with health data) and left due, so the next sweep tries it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

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
from models.patients import Patient

log = logging.getLogger("cartwatch.jobs")
T = TypeVar("T")


def _each(
    session: Session,
    items: Iterable[T],
    work: Callable[[T], Any],
    ident: Callable[[T], int],
    job: str,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        try:
            with session.begin_nested():
                outcome = str(work(item) or "done")
        except Exception:
            log.exception("%s: item %s failed; it stays due", job, ident(item))
            outcome = "failed"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def escalate_unacknowledged(
    sessions: Callable[[], Session], now: datetime, limit: int = 1000
) -> dict[str, int]:
    """Escalate every urgent or emergency flag whose acknowledgement deadline passed."""
    with sessions() as session:
        flags = due_escalations(session, now, limit)
        counts = _each(
            session,
            flags,
            lambda flag: escalate_flag(session, flag, now=now) and "escalated",
            lambda flag: flag.flag_id,
            "escalate-unacknowledged",
        )
        session.commit()
    return counts


def checkin_sweep(
    sessions: Callable[[], Session],
    now: datetime,
    settings: CheckinSettings = CheckinSettings(),
    limit: int = 5000,
) -> dict[str, int]:
    """Take every due check-in one step: remind the patient, the caregivers, then the team."""
    with sessions() as session:
        patients = due_checkins(session, now, limit)
        counts = _each(
            session,
            patients,
            lambda patient: step_checkin(session, patient, now, settings),
            lambda patient: patient.patient_id,
            "checkin-reminders",
        )
        session.commit()
    return counts


def _complete(patient: Patient) -> str:
    complete_monitoring(patient)
    return "completed"


def end_monitoring_windows(
    sessions: Callable[[], Session], now: datetime, limit: int = 5000
) -> dict[str, int]:
    """Move patients whose monitoring window closed to completed."""
    with sessions() as session:
        patients = due_window_ends(session, now, limit)
        counts = _each(
            session,
            patients,
            _complete,
            lambda patient: patient.patient_id,
            "end-monitoring",
        )
        session.commit()
    return counts


def dispatch_outbox(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    now: Callable[[], datetime],
    settings: DispatchSettings = DispatchSettings(),
) -> DispatchCounts:
    """Send what is due in the outbox (retries included)."""
    return dispatch_due(sessions, channels, now=now, settings=settings)
