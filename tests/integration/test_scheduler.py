"""Two `cartwatch scheduler` processes on PostgreSQL: exactly one leads; the other takes over."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from api.extensions import db

ROOT = Path(__file__).resolve().parents[2]


class SchedulerProcess:
    def __init__(self, url: str) -> None:
        env = os.environ | {
            "DATABASE_URL": url,
            "SECRET_KEY": "s" * 48,
            "LOG_LEVEL": "INFO",
            "DISPATCH_ON_COMMIT": "false",
        }
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "api", "scheduler", "--retry-seconds", "0.3"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def leading(self) -> bool:
        return any("scheduler: leading" in line for line in self.lines)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_one_leader_and_take_over_when_it_dies(app, database_url):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("leader election uses PostgreSQL advisory locks; SQLite runs one scheduler")
    first, second = SchedulerProcess(database_url), SchedulerProcess(database_url)
    try:
        assert wait_until(lambda: first.leading or second.leading, 30), first.lines + second.lines
        time.sleep(1.0)  # several retry periods: the standby must stay a standby
        assert first.leading != second.leading, "exactly one scheduler leads"
        leader, standby = (first, second) if first.leading else (second, first)
        leader.stop(signal.SIGKILL)  # dies without releasing anything
        assert wait_until(lambda: standby.leading, 15), standby.lines
    finally:
        first.stop()
        second.stop()
    assert any("scheduler: stopped" in line for line in standby.lines)
