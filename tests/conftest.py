"""Fixtures: one app per test session on SQLite (default) or PostgreSQL (TEST_DATABASE_URL).

Each test starts from empty tables; the schema is built once with the real migrations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

import models
from alerts.channels.registry import close_channels
from api import create_app
from api.auth import issue_tokens
from api.extensions import db, limiter
from models import migrate, patients, teams
from models.patients import CodeKind
from models.users import Role, User, create_user, start_session

PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 40


class Clock:
    """The app's clock in tests: fixed until a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "cartwatch-test.sqlite3")


@pytest.fixture(scope="session")
def session_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def app(
    database_url: str, session_clock: Clock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "CLOCK": session_clock,
            # Real argon2id, at a cost that keeps the suite quick.
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_COST": 1024,
            "PASSWORD_HASH_PARALLELISM": 1,
            "LOG_LEVEL": "WARNING",
            "DISPATCH_ON_COMMIT": False,
        }
    )
    with app.app_context():
        engine = db.engine
        # A PostgreSQL test database may hold a previous run's tables: start from nothing.
        models.Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        migrate.upgrade(engine)
    yield app
    close_channels(app.extensions["cartwatch.channels"].values())
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        db.session.rollback()
        for table in reversed(models.Base.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    limiter.reset()


@pytest.fixture
def clock(session_clock: Clock) -> Clock:
    session_clock.now = datetime.now(UTC).replace(microsecond=0)
    return session_clock


@pytest.fixture
def client(app: Flask, clock: Clock) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def in_db(app: Flask) -> Callable[[Callable[[Session], Any]], Any]:
    """Run a function with a database session in its own app context (and commit)."""

    def run(work: Callable[[Session], Any]) -> Any:
        with app.app_context():
            result = work(db.session)
            db.session.commit()
            return result

    return run


@dataclass
class Person:
    user_id: int
    email: str
    role: str
    headers: dict[str, str]
    patient_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def bearer(app: Flask, user: User) -> dict[str, str]:
    auth = start_session(db.session, user, now=datetime.now(UTC), lifetime=timedelta(days=1))
    with app.test_request_context():
        tokens = issue_tokens(user, auth)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def make_user(app: Flask, clock: Clock) -> Callable[..., Person]:
    counter = iter(range(1, 10_000))

    def make(role: str = "clinician", email: str | None = None, **_: Any) -> Person:
        with app.app_context():
            user = create_user(
                db.session,
                email=email or f"{role}{next(counter)}@example.org",
                password=PASSWORD,
                role=Role(role),
                display_name=f"Test {role}",
                now=clock(),
            )
            headers = bearer(app, user)
            db.session.commit()
            return Person(user.user_id, user.email, user.role, headers)

    return make


@pytest.fixture
def make_team(
    app: Flask, clock: Clock, make_user: Callable[..., Person]
) -> Callable[..., dict[str, Any]]:
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> dict[str, Any]:
        """Create a team with one clinician member; return ids and that clinician."""
        with app.app_context():
            data = {
                "name": f"Team {next(counter)}",
                "phone": "+16175550100",
                "on_call_name": "On call",
                "on_call_phone": "+16175550101",
                "on_call_email": "oncall@example.org",
            } | overrides
            team = teams.create_team(db.session, data=data, now=clock())
            db.session.commit()
            team_id = team.team_id
        clinician = make_user("clinician")
        with app.app_context():
            teams.add_member(
                db.session,
                teams.get_team(db.session, team_id),
                user_id=clinician.user_id,
                now=clock(),
            )
            db.session.commit()
        return {"team_id": team_id, "clinician": clinician}

    return make


def enrolment(**overrides: Any) -> dict[str, Any]:
    """Return a valid enrolment body (JSON form)."""
    return {
        "display_name": "Alex Example",
        "mrn": None,
        "date_of_birth": "1970-05-01",
        "timezone": "Europe/Madrid",
        "language": "es",
        "temperature_unit": "C",
        "product": "kymriah",
        "infusion_date": date.today().isoformat(),
        "monitoring_days": 28,
        "checkin_times": ["08:00", "20:00"],
    } | overrides


@pytest.fixture
def make_patient(
    app: Flask,
    clock: Clock,
    make_team: Callable[..., dict[str, Any]],
    make_user: Callable[..., Person],
) -> Callable[..., Person]:
    """Enrol a patient with an activated login; ``team`` reuses a team from make_team."""

    def make(team: dict[str, Any] | None = None, **overrides: Any) -> Person:
        team = team or make_team()
        body = enrolment(**overrides)
        data = body | {
            "date_of_birth": date.fromisoformat(body["date_of_birth"]),
            "infusion_date": date.fromisoformat(body["infusion_date"]),
        }
        with app.app_context():
            clinician = db.session.get(User, team["clinician"].user_id)
            patient, code = patients.enrol_patient(
                db.session,
                team=teams.get_team(db.session, team["team_id"]),
                data=data,
                enrolled_by=clinician,
                now=clock(),
                code_lifetime=timedelta(days=7),
            )
            user, _ = patients.activate_patient_account(
                db.session,
                code=code,
                email=f"patient{patient.patient_id}@example.org",
                password=PASSWORD,
                now=clock(),
            )
            headers = bearer(app, user)
            db.session.commit()
            return Person(
                user.user_id, user.email, "patient", headers, patient.patient_id, {"team": team}
            )

    return make


@pytest.fixture
def link_caregiver(
    app: Flask, clock: Clock, make_user: Callable[..., Person]
) -> Callable[..., Person]:
    """Link a (new) caregiver to a patient through a real invitation."""

    def link(patient: Person, caregiver: Person | None = None) -> Person:
        caregiver = caregiver or make_user("caregiver")
        with app.app_context():
            record = patients.get_patient(db.session, patient.patient_id or 0)
            inviter = db.session.get(User, patient.user_id)
            code = patients.issue_code(
                db.session,
                record,
                kind=CodeKind.CAREGIVER,
                by=inviter,
                now=clock(),
                lifetime=timedelta(days=7),
            )
            user = db.session.get(User, caregiver.user_id)
            link = patients.accept_invitation(
                db.session, code=code, caregiver=user, relationship="daughter", now=clock()
            )
            db.session.commit()
            caregiver.extra["link_id"] = link.link_id
        caregiver.patient_id = patient.patient_id
        return caregiver

    return link


@pytest.fixture
def sessions(app: Flask) -> Any:
    """The session factory the scheduler's jobs use."""
    with app.app_context():
        return db.sessionmaker


def report_body(clock: Clock, **overrides: Any) -> dict[str, Any]:
    """Return a valid, unremarkable report body; overrides change fields."""
    import uuid

    body: dict[str, Any] = {
        "client_report_id": str(uuid.uuid4()),
        "recorded_at": clock.now.isoformat(),
        "temperature": {"value": 37.0, "unit": "C"},
        "heart_rate": 80,
        "systolic_bp": 120,
        "diastolic_bp": 75,
        "spo2": 98,
        "symptoms": [],
    }
    body.update(overrides)
    return body


@pytest.fixture
def webhook_receiver() -> Iterator[Any]:
    from tests.support.receivers import WebhookReceiver

    with WebhookReceiver(secret="receiver-secret-0123456789") as receiver:
        yield receiver


@pytest.fixture
def smtp_receiver() -> Iterator[Any]:
    from tests.support.receivers import SmtpReceiver

    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def channels(smtp_receiver: Any) -> Iterator[dict[str, Any]]:
    """Real channels pointed at the loopback receivers (SMS and push through logging adapters)."""
    from alerts.channels.email import EmailChannel
    from alerts.channels.push import LoggingPushProvider, PushChannel
    from alerts.channels.sms import LoggingSmsProvider, SmsChannel
    from alerts.channels.webhook import WebhookChannel

    built = {
        "webhook": WebhookChannel(timeout=2.0),
        "email": EmailChannel(
            "127.0.0.1", smtp_receiver.port, "cartwatch@example.org", timeout=2.0
        ),
        "sms": SmsChannel(LoggingSmsProvider()),
        "push": PushChannel(LoggingPushProvider()),
    }
    yield built
    close_channels(built.values())
