"""The scheduled sweeps. Each opens its own session, works on what is due, commits, returns counts.

---
One failing item never stops a sweep: each runs in a savepoint, and a failure is logged by id
(never with health data) and left due, so the next sweep tries it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from alerts.channels import Channel
from alerts.checkins import CheckinSettings, complete_due_windows, due_checkins, step_checkin
from alerts.flags import due_escalations, escalate_flag
from alerts.notify import Directory
from alerts.outbox import DispatchCounts, DispatchSettings, dispatch_due
from models.flags import Flag
from models.patients import Patient

log = logging.getLogger("cartwatch.jobs")
T = TypeVar("T")


def _sweep(
    sessions: Callable[[], Session],
    job: str,
    due: Callable[[Session], Sequence[T]],
    work: Callable[[Session, T, Directory], str],
    ident: Callable[[T], int],
    preload: Callable[[Directory, Sequence[T]], object],
) -> dict[str, int]:
    """Run ``work`` on every due item, count the outcomes, commit once.

    ---
    The batch runs in one savepoint with one flush. If anything in it fails, the batch is rolled
    back and redone item by item, each in its own savepoint, so one bad item is logged by id,
    stays due, and stops nobody else.
    """
    with sessions() as session:
        items = due(session)
        directory = Directory(session)
        preload(directory, items)
        try:
            with session.begin_nested():
                outcomes = [work(session, item, directory) for item in items]
                directory.flush()
        except Exception:
            log.warning("%s: a batch of %s failed; redoing it item by item", job, len(items))
            directory.discard()
            outcomes = [_one(session, job, item, work, ident, directory) for item in items]
        session.commit()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _one(
    session: Session,
    job: str,
    item: T,
    work: Callable[[Session, T, Directory], str],
    ident: Callable[[T], int],
    directory: Directory,
) -> str:
    try:
        with session.begin_nested():
            outcome = work(session, item, directory)
            directory.flush()
        return outcome
    except Exception:
        log.exception("%s: item %s failed; it stays due", job, ident(item))
        directory.discard()
        return "failed"


def _flag_id(flag: Flag) -> int:
    return flag.flag_id


def _patient_id(patient: Patient) -> int:
    return patient.patient_id


def escalate_unacknowledged(
    sessions: Callable[[], Session], now: datetime, limit: int = 1000
) -> dict[str, int]:
    """Escalate every urgent or emergency flag whose acknowledgement deadline passed."""

    def escalate(session: Session, flag: Flag, directory: Directory) -> str:
        escalate_flag(session, flag, now=now, directory=directory)
        return "escalated"

    def preload(directory: Directory, flags: Sequence[Flag]) -> None:
        directory.preload(directory.load_patients({flag.patient_id for flag in flags}))

    return _sweep(
        sessions,
        "escalate-unacknowledged",
        lambda s: due_escalations(s, now, limit),
        escalate,
        _flag_id,
        preload,
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
        lambda s, patient, directory: step_checkin(s, patient, now, settings, directory),
        _patient_id,
        Directory.preload,
    )


def end_monitoring_windows(sessions: Callable[[], Session], now: datetime) -> dict[str, int]:
    """Move patients whose monitoring window closed to completed."""
    with sessions() as session:
        completed = complete_due_windows(session, now)
        session.commit()
    return {"completed": completed} if completed else {}


def dispatch_outbox(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    now: Callable[[], datetime],
    settings: DispatchSettings = DispatchSettings(),
) -> DispatchCounts:
    """Send what is due in the outbox (retries included)."""
    return dispatch_due(sessions, channels, now=now, settings=settings)
