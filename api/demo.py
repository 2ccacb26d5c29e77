"""Demo data for a local run: an admin, a care team with a clinician, a patient and a caregiver."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from models import patients, teams
from models.patients import CodeKind
from models.users import Role, create_user, user_by_email

DEMO_PASSWORD = "cartwatch-demo"
LOGINS = (
    ("admin@demo.cartwatch.test", Role.ADMIN, "Demo Admin"),
    ("nurse@demo.cartwatch.test", Role.CLINICIAN, "Nora Nurse"),
    ("patient@demo.cartwatch.test", Role.PATIENT, "Pat Patient"),
    ("caregiver@demo.cartwatch.test", Role.CAREGIVER, "Cara Caregiver"),
)


def load_demo_data(session: Session, now: datetime) -> bool:
    """Create the demo records unless they exist; return whether anything was created."""
    if user_by_email(session, LOGINS[0][0]) is not None:
        return False
    create_user(
        session,
        email=LOGINS[0][0],
        password=DEMO_PASSWORD,
        role=Role.ADMIN,
        display_name=LOGINS[0][2],
        now=now,
    )
    nurse = create_user(
        session,
        email=LOGINS[1][0],
        password=DEMO_PASSWORD,
        role=Role.CLINICIAN,
        display_name=LOGINS[1][2],
        now=now,
    )
    team = teams.create_team(
        session,
        data={
            "name": "Demo Cellular Therapy Team",
            "phone": "+16175550100",
            "on_call_name": "On-call haematology fellow",
            "on_call_phone": "+16175550101",
            "on_call_email": "oncall@demo.cartwatch.test",
        },
        now=now,
    )
    teams.add_member(session, team, user_id=nurse.user_id, now=now)
    patient, code = patients.enrol_patient(
        session,
        team=team,
        data={
            "display_name": LOGINS[2][2],
            "mrn": "DEMO-0001",
            "date_of_birth": date(1961, 4, 12),
            "timezone": "America/New_York",
            "language": "en",
            "temperature_unit": "F",
            "product": "yescarta",
            "infusion_date": now.date() - timedelta(days=3),
            "monitoring_days": 28,
            "checkin_times": ["09:00", "21:00"],
            "ice_baseline": 10,
        },
        enrolled_by=nurse,
        now=now,
        code_lifetime=timedelta(days=7),
    )
    patients.activate_patient_account(
        session, code=code, email=LOGINS[2][0], password=DEMO_PASSWORD, now=now
    )
    invitation = patients.issue_code(
        session, patient, kind=CodeKind.CAREGIVER, by=nurse, now=now, lifetime=timedelta(days=7)
    )
    caregiver = create_user(
        session,
        email=LOGINS[3][0],
        password=DEMO_PASSWORD,
        role=Role.CAREGIVER,
        display_name=LOGINS[3][2],
        now=now,
    )
    patients.accept_invitation(
        session, code=invitation, caregiver=caregiver, relationship="spouse", now=now
    )
    return True


def describe_logins() -> str:
    """Return the demo logins as printable lines."""
    lines = [f"  {role.value:<10} {email}  password: {DEMO_PASSWORD}" for email, role, _ in LOGINS]
    return "Demo logins (local use only):\n" + "\n".join(lines)
