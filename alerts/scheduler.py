"""The APScheduler process: a few periodic sweeps, led by one instance at a time.

---
On PostgreSQL the leader holds a session-level advisory lock on a dedicated connection for as
long as it runs; standbys retry every few seconds and take over when the leader's connection
closes (the process died or lost the database). On SQLite there is one process, so it leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts import jobs
from alerts.channels import Channel
from alerts.checkins import CheckinSettings

log = logging.getLogger("cartwatch.scheduler")
# Any fixed 64-bit number, the same in every process of one installation.
LEADER_LOCK_KEY = 0x63617274_77617463  # "cartwatc"


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


class Leadership:
    """Leader election through a PostgreSQL advisory lock (always the leader on SQLite)."""

    def __init__(self, engine: Engine, key: int = LEADER_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self.connection: Connection | None = None

    def try_acquire(self) -> bool:
        """Try once to become the leader."""
        if self.engine.dialect.name != "postgresql":
            return True
        try:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
            ).scalar()
        except SQLAlchemyError:
            log.warning("leader election: database not reachable")
            return False
        if won:
            self.connection = connection
            return True
        connection.close()
        return False

    def is_held(self) -> bool:
        """Tell whether this process still holds the lock (its connection still answers)."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            self.connection = None
            return False

    def release(self) -> None:
        """Give up the lead."""
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self.connection.close()
            except SQLAlchemyError:
                pass
            self.connection = None


@dataclass(frozen=True)
class Intervals:
    """How often each sweep runs, in seconds."""

    dispatch: float = 5
    escalation: float = 15
    checkins: float = 30
    window_ends: float = 300


def _run(name: str, work: Callable[[], Any]) -> None:
    try:
        result = work()
        if result:
            log.info("%s: %s", name, result)
    except Exception:
        log.exception("%s failed", name)


def build_scheduler(
    sessions: Callable[[], Session],
    channels: Mapping[str, Channel],
    intervals: Intervals = Intervals(),
    checkin_settings: CheckinSettings = CheckinSettings(),
) -> BackgroundScheduler:
    """Create the scheduler with its sweeps (not started)."""
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
    )
    sweeps: list[tuple[str, float, Callable[[], Any]]] = [
        (
            "dispatch-outbox",
            intervals.dispatch,
            lambda: jobs.dispatch_outbox(sessions, channels, utcnow).handled,
        ),
        (
            "escalate-unacknowledged",
            intervals.escalation,
            lambda: jobs.escalate_unacknowledged(sessions, utcnow()),
        ),
        (
            "checkin-reminders",
            intervals.checkins,
            lambda: jobs.checkin_sweep(sessions, utcnow(), checkin_settings),
        ),
        (
            "end-monitoring",
            intervals.window_ends,
            lambda: jobs.end_monitoring_windows(sessions, utcnow()),
        ),
    ]
    for job_id, seconds, work in sweeps:
        scheduler.add_job(
            _run,
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            args=(job_id, work),
            next_run_time=utcnow(),
        )
    return scheduler


def run(
    engine: Engine,
    make_scheduler: Callable[[], BackgroundScheduler],
    stop: threading.Event,
    retry_seconds: float = 5,
) -> None:
    """Lead when possible, stand by otherwise, until ``stop`` is set."""
    leadership = Leadership(engine)
    while not stop.is_set():
        if not leadership.try_acquire():
            stop.wait(retry_seconds)
            continue
        log.info("scheduler: leading")
        scheduler = make_scheduler()
        scheduler.start()
        try:
            while not stop.wait(retry_seconds):
                if not leadership.is_held():
                    log.warning("scheduler: lost the lead")
                    break
        finally:
            scheduler.shutdown(wait=True)
            leadership.release()
    log.info("scheduler: stopped")
