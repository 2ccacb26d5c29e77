"""The ``cartwatch`` command: serve, database migrations, demo data, accounts."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from api.extensions import db, utcnow
from models import migrate


@click.group("db")
def db_group() -> None:
    """Manage the database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    migrate.upgrade(db.engine, revision)


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Take the database schema down to REVISION."""
    migrate.downgrade(db.engine, revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the models (autogenerate)."""
    migrate.revision(db.engine, message)


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail if the models have changes that no migration covers."""
    migrate.check(db.engine)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load demo data (a team, a clinician, a patient, a caregiver) and print the logins."""
    _load_demo()


def _load_demo() -> None:
    from api.demo import describe_logins, load_demo_data

    created = load_demo_data(db.session, utcnow())
    db.session.commit()
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo(describe_logins())


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="Administrator")
@click.password_option()
@with_appcontext
def create_admin(email: str, display_name: str, password: str) -> None:
    """Create the first admin account."""
    from models.users import Role, create_user

    create_user(
        db.session,
        email=email,
        password=password,
        role=Role.ADMIN,
        display_name=display_name,
        now=utcnow(),
    )
    db.session.commit()
    click.echo(f"Admin {email} created.")


def start_scheduler(
    app: Flask, stop: threading.Event, retry_seconds: float = 5
) -> threading.Thread:
    """Run the scheduler (leading or standing by) in a thread of this process."""
    from alerts.scheduler import build_scheduler, run
    from api.dispatch import channels

    with app.app_context():
        engine, sessions = db.engine, db.sessionmaker
    thread = threading.Thread(
        target=run,
        args=(engine, lambda: build_scheduler(sessions, channels(app)), stop, retry_seconds),
        name="cartwatch-scheduler",
        daemon=True,
    )
    thread.start()
    return thread


@click.command("scheduler")
@click.option(
    "--retry-seconds",
    default=5.0,
    show_default=True,
    help="How often a standby tries to take the lead.",
)
@with_appcontext
def scheduler_command(retry_seconds: float) -> None:
    """Run the scheduled sweeps (dispatch, escalation, reminders, window ends) until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("cartwatch scheduler started", err=True)
    thread = start_scheduler(app, stop, retry_seconds)
    while thread.is_alive():
        thread.join(0.5)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=1, show_default=True)
@click.option("--threads", default=4, show_default=True)
@click.option("--demo", is_flag=True, help="Load demo data if missing and print the logins.")
@click.option("--no-scheduler", is_flag=True, help="Run the scheduler as its own process instead.")
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int, demo: bool, no_scheduler: bool) -> None:
    """Migrate the database, then serve the API with gunicorn (and the scheduler, embedded)."""
    from gunicorn.app.base import BaseApplication

    migrate.upgrade(db.engine)
    if demo:
        _load_demo()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("when_ready", self._when_ready)
            self.cfg.set("post_fork", self._post_fork)

        def _when_ready(self, server: Any) -> None:
            # In the master: the scheduler runs once, whatever the number of workers.
            if not no_scheduler:
                start_scheduler(app, threading.Event())

        def _post_fork(self, server: Any, worker: Any) -> None:
            with app.app_context():
                db.engine.dispose(close=False)

        def load(self) -> Flask:
            return app

    click.echo(f"cartwatch on http://{host}:{port}/api/v1/docs")
    Server().run()


@click.group("rules")
def rules_group() -> None:
    """Judge reports with the clinical rules from the command line."""


@rules_group.command("check")
@click.argument("source", type=click.File("r"))
@click.option("--team", "team_id", type=int, help="Use this care team's thresholds.")
@with_appcontext
def rules_check(source: Any, team_id: int | None) -> None:
    """Judge one report body (JSON, from SOURCE or - for stdin) and print the findings as JSON.

    History rules are not applied: there is no patient history here.
    """
    from marshmallow import ValidationError

    from alerts.evaluate import History, evaluate, report_level
    from alerts.intake import observation_from
    from alerts.rules import DEFAULT_THRESHOLDS
    from models.teams import get_team
    from models.thresholds import DEFAULT_VERSION, current_thresholds
    from schemas.reports import ReportInSchema

    try:
        body = json.load(source)
        data = ReportInSchema(partial=("client_report_id", "recorded_at")).load(body)
    except json.JSONDecodeError as error:
        raise click.UsageError(f"not JSON: {error}") from error
    except ValidationError as error:
        click.echo(json.dumps({"errors": error.messages}, indent=2, ensure_ascii=False), err=True)
        raise SystemExit(2) from error
    version, thresholds = DEFAULT_VERSION, dict(DEFAULT_THRESHOLDS)
    if team_id is not None:
        get_team(db.session, team_id)
        version, thresholds = current_thresholds(db.session, team_id)
    findings = evaluate(
        observation_from(data, data.get("recorded_at") or utcnow()), History(), thresholds
    )
    result = {
        "level": report_level(findings),
        "threshold_version": version,
        "flags": [
            {
                "rule_id": f.rule_id,
                "rule_version": f.rule_version,
                "level": f.level,
                "inputs": dict(f.inputs),
            }
            for f in findings
        ],
    }
    click.echo(json.dumps(result, indent=2))


def register_commands(app: Flask) -> None:
    """Add cartwatch's commands to ``flask`` and ``cartwatch``."""
    for command in (db_group, demo_command, create_admin, serve, rules_group, scheduler_command):
        app.cli.add_command(command)


def main(*args: Any) -> None:
    """Entry point of the ``cartwatch`` console script."""
    from api import create_app

    FlaskGroup(create_app=create_app, add_default_commands=True)(*args)
