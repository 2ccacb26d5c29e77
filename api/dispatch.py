"""Send notifications right after the commit that queued them, from a thread of this process.

---
The request never waits: it commits, answers, and wakes this thread, which runs the same
dispatcher as the scheduler's sweep (the sweep remains the safety net for retries and for rows
a crashed process left behind).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from alerts import jobs
from alerts.channels.registry import channels_from_config
from api.extensions import db, utcnow

log = logging.getLogger("cartwatch.dispatch")


class Waker:
    """A lazily started dispatcher thread, woken after commits that queued notifications."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.event = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.poll_seconds = float(app.config.get("OUTBOX_POLL_SECONDS", 5))

    def wake(self) -> None:
        """Ask the dispatcher thread to send what is due now."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._loop, name="cartwatch-dispatch", daemon=True
                )
                self.thread.start()
        self.event.set()

    def _loop(self) -> None:
        while True:
            self.event.wait(self.poll_seconds)
            self.event.clear()
            if not self.app.config.get("DISPATCH_ON_COMMIT", True):
                continue
            try:
                with self.app.app_context():
                    jobs.dispatch_outbox(db.sessionmaker, channels(self.app), utcnow)
            except Exception:
                log.exception("dispatch after commit failed; the scheduler's sweep will retry")


def channels(app: Flask) -> Any:
    """Return this app's notification channels (built at start-up from its config)."""
    return app.extensions["cartwatch.channels"]


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("outbox_added", False) and has_app_context():
        if current_app.config.get("DISPATCH_ON_COMMIT", True):
            current_app.extensions["cartwatch.waker"].wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("outbox_added", None)


def init_app(app: Flask) -> None:
    """Build the channels (a bad setting fails here, at start-up) and the waker."""
    app.extensions["cartwatch.channels"] = channels_from_config(app.config)
    app.extensions["cartwatch.waker"] = Waker(app)
