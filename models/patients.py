"""Patients, their one-time codes (activation, caregiver invitation) and caregiver links."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.errors import ConflictError, InvalidInputError, NotFoundError
from models.teams import CareTeam
from models.users import Role, User, create_user


class PatientStatus(StrEnum):
    """Where a patient is in their monitoring."""

    ACTIVE = "active"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Product(StrEnum):
    """The approved CAR T-cell products (clinical reference, section 3), or another."""

    ABECMA = "abecma"
    AUCATZYL = "aucatzyl"
    BREYANZI = "breyanzi"
    CARVYKTI = "carvykti"
    KYMRIAH = "kymriah"
    TECARTUS = "tecartus"
    YESCARTA = "yescarta"
    OTHER = "other"


class CodeKind(StrEnum):
    """What a one-time code lets its holder do."""

    ACTIVATION = "activation"
    CAREGIVER = "caregiver"


class Patient(Base):
    """A person in the weeks after a CAR T-cell infusion, enrolled by their care team."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("team_id", "mrn", name="uq_patients_team_id_mrn"),
        CheckConstraint("status IN ('active', 'completed', 'withdrawn')", name="status"),
        CheckConstraint("temperature_unit IN ('C', 'F')", name="temperature_unit"),
        CheckConstraint("monitoring_days BETWEEN 1 AND 365", name="monitoring_days"),
        # Only active patients' windows can end; completed ones must not slow the sweep down.
        Index(
            "ix_patients_active_monitoring_ends_at",
            "monitoring_ends_at",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    patient_id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.team_id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    mrn: Mapped[str | None] = mapped_column(String(40))
    date_of_birth: Mapped[date]
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    temperature_unit: Mapped[str] = mapped_column(String(1))
    product: Mapped[str] = mapped_column(String(16))
    infusion_date: Mapped[date]
    monitoring_days: Mapped[int]
    checkin_times: Mapped[list[str]] = mapped_column(JSON)
    ice_baseline: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(12), default=PatientStatus.ACTIVE.value)
    # Due times for the scheduler's sweeps (indexed: a sweep reads only what is due).
    checkin_slot_at: Mapped[datetime | None]
    checkin_stage: Mapped[int] = mapped_column(default=0)
    next_checkin_action_at: Mapped[datetime | None] = mapped_column(index=True)
    monitoring_ends_at: Mapped[datetime | None]
    last_report_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime]
    enrolled_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))
    updated_at: Mapped[datetime]


class AccessCode(Base):
    """A one-time code: it activates a patient's login or links a caregiver.

    ---
    Only a SHA-256 of the code is stored; codes carry about 59 random bits, so a fast hash is
    enough, and redemption is rate-limited.
    """

    __tablename__ = "access_codes"

    code_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.patient_id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"))
    revoked_at: Mapped[datetime | None]


class CaregiverLink(Base):
    """A caregiver's right to see and report for one patient, until revoked."""

    __tablename__ = "caregiver_links"
    __table_args__ = (
        # At most one live link per caregiver and patient; revoked ones stay as history.
        Index(
            "uq_caregiver_links_live",
            "patient_id",
            "caregiver_user_id",
            unique=True,
            sqlite_where=mapped_column("revoked_at").is_(None),
            postgresql_where=mapped_column("revoked_at").is_(None),
        ),
    )

    link_id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.patient_id"), index=True)
    caregiver_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), index=True)
    relationship: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    invited_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))
    revoked_at: Mapped[datetime | None]
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.user_id"))


PATIENT_FIELDS = (
    "display_name",
    "mrn",
    "date_of_birth",
    "timezone",
    "language",
    "temperature_unit",
    "product",
    "infusion_date",
    "monitoring_days",
    "checkin_times",
    "ice_baseline",
)
# No 0/O, 1/I/L: codes are read aloud over the phone and typed on small screens.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def new_code() -> str:
    """Return a fresh one-time code, grouped for reading: ``ABCD-EFGH-JKMN``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def hash_code(code: str) -> str:
    """Hash a code as typed, ignoring case, spaces and dashes."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


def day_since_infusion(patient: Patient, at: datetime) -> int:
    """Return the day after infusion (day 0 = infusion date) in the patient's own time zone."""
    return (at.astimezone(ZoneInfo(patient.timezone)).date() - patient.infusion_date).days


def get_patient(session: Session, patient_id: int) -> Patient:
    """Return a patient or raise NotFoundError."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("Patient not found.")
    return patient


def patient_of_user(session: Session, user_id: int) -> Patient | None:
    """Return the patient record a patient login belongs to."""
    return session.scalars(select(Patient).where(Patient.user_id == user_id)).first()


def _check_enrolment(data: Mapping[str, Any], now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    dob, infusion = data.get("date_of_birth"), data.get("infusion_date")
    if dob is not None and dob > now.date():
        errors["date_of_birth"] = ["Must not be in the future."]
    if dob is not None and infusion is not None and infusion < dob:
        errors["infusion_date"] = ["Must not be before the date of birth."]
    if errors:
        raise InvalidInputError("Invalid enrolment.", errors)


def _ensure_unique_mrn(
    session: Session, team_id: int, mrn: str | None, patient_id: int | None
) -> None:
    if mrn is None:
        return
    clash = session.scalars(
        select(Patient).where(Patient.team_id == team_id, Patient.mrn == mrn)
    ).first()
    if clash is not None and clash.patient_id != patient_id:
        raise ConflictError(
            "A patient with this MRN is already enrolled in the team.",
            {"mrn": ["Already enrolled in this team."]},
        )


def enrol_patient(
    session: Session,
    *,
    team: CareTeam,
    data: Mapping[str, Any],
    enrolled_by: User,
    now: datetime,
    code_lifetime: timedelta,
) -> tuple[Patient, str]:
    """Enrol a patient into a team; return the patient and their one-time activation code."""
    _check_enrolment(data, now)
    _ensure_unique_mrn(session, team.team_id, data.get("mrn"), None)
    patient = Patient(
        team_id=team.team_id,
        status=PatientStatus.ACTIVE.value,
        enrolled_at=now,
        enrolled_by_user_id=enrolled_by.user_id,
        updated_at=now,
        **{k: data.get(k) for k in PATIENT_FIELDS},
    )
    from alerts.checkins import schedule

    schedule(patient, now)
    session.add(patient)
    session.flush()
    code = issue_code(
        session, patient, kind=CodeKind.ACTIVATION, by=enrolled_by, now=now, lifetime=code_lifetime
    )
    return patient, code


def update_patient(
    session: Session, patient: Patient, *, changes: Mapping[str, Any], now: datetime
) -> Patient:
    """Change a patient's enrolment details."""
    merged = {k: changes.get(k, getattr(patient, k)) for k in PATIENT_FIELDS}
    _check_enrolment(merged, now)
    if "mrn" in changes:
        _ensure_unique_mrn(session, patient.team_id, changes["mrn"], patient.patient_id)
    for key in (*PATIENT_FIELDS, "status"):
        if key in changes:
            setattr(patient, key, changes[key])
    if changes.keys() & {"checkin_times", "timezone", "infusion_date", "monitoring_days", "status"}:
        from alerts.checkins import schedule

        schedule(patient, now)
    patient.updated_at = now
    session.flush()
    return patient


def issue_code(
    session: Session,
    patient: Patient,
    *,
    kind: CodeKind,
    by: User,
    now: datetime,
    lifetime: timedelta,
) -> str:
    """Create a one-time code; a new activation code cancels the patient's earlier ones."""
    if kind is CodeKind.ACTIVATION:
        if patient.user_id is not None:
            raise ConflictError("This patient already has a login.")
        for old in session.scalars(
            select(AccessCode).where(
                AccessCode.patient_id == patient.patient_id,
                AccessCode.kind == CodeKind.ACTIVATION.value,
                AccessCode.used_at.is_(None),
                AccessCode.revoked_at.is_(None),
            )
        ):
            old.revoked_at = now
    code = new_code()
    session.add(
        AccessCode(
            kind=kind.value,
            patient_id=patient.patient_id,
            code_hash=hash_code(code),
            created_by_user_id=by.user_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return code


def _redeem(session: Session, code: str, kind: CodeKind, now: datetime) -> AccessCode:
    """Find a live code of this kind; any other case is the same error, to give nothing away."""
    found = session.scalars(
        select(AccessCode).where(AccessCode.code_hash == hash_code(code))
    ).first()
    if (
        found is None
        or found.kind != kind.value
        or found.used_at is not None
        or found.revoked_at is not None
        or found.expires_at <= now
    ):
        raise InvalidInputError(
            "This code is not valid; it may have expired or been used already.",
            {"code": ["Not valid, expired or already used."]},
        )
    return found


def activate_patient_account(
    session: Session, *, code: str, email: str, password: str, now: datetime
) -> tuple[User, Patient]:
    """Create a patient's own login from their activation code."""
    access_code = _redeem(session, code, CodeKind.ACTIVATION, now)
    patient = get_patient(session, access_code.patient_id)
    if patient.user_id is not None:
        raise ConflictError("This patient already has a login.")
    user = create_user(
        session,
        email=email,
        password=password,
        role=Role.PATIENT,
        display_name=patient.display_name,
        now=now,
    )
    patient.user_id = user.user_id
    access_code.used_at = now
    access_code.used_by_user_id = user.user_id
    session.flush()
    return user, patient


def accept_invitation(
    session: Session,
    *,
    code: str,
    caregiver: User,
    relationship: str | None,
    now: datetime,
) -> CaregiverLink:
    """Link a caregiver to the patient who invited them."""
    if caregiver.role != Role.CAREGIVER:
        raise InvalidInputError(
            "Only a caregiver account can accept a caregiver invitation.",
            {"code": ["Log in with a caregiver account, or create one."]},
        )
    access_code = _redeem(session, code, CodeKind.CAREGIVER, now)
    if live_link(session, access_code.patient_id, caregiver.user_id) is not None:
        raise ConflictError("You are already linked to this patient.")
    link = CaregiverLink(
        patient_id=access_code.patient_id,
        caregiver_user_id=caregiver.user_id,
        relationship=relationship,
        created_at=now,
        invited_by_user_id=access_code.created_by_user_id,
    )
    access_code.used_at = now
    access_code.used_by_user_id = caregiver.user_id
    session.add(link)
    session.flush()
    return link


def live_link(session: Session, patient_id: int, caregiver_user_id: int) -> CaregiverLink | None:
    """Return the caregiver's unrevoked link to the patient, if any."""
    return session.scalars(
        select(CaregiverLink).where(
            CaregiverLink.patient_id == patient_id,
            CaregiverLink.caregiver_user_id == caregiver_user_id,
            CaregiverLink.revoked_at.is_(None),
        )
    ).first()


def caregiver_links(session: Session, patient_id: int) -> list[tuple[CaregiverLink, User]]:
    """List a patient's caregiver links, live and revoked, newest first."""
    rows = session.execute(
        select(CaregiverLink, User)
        .join(User, User.user_id == CaregiverLink.caregiver_user_id)
        .where(CaregiverLink.patient_id == patient_id)
        .order_by(CaregiverLink.created_at.desc(), CaregiverLink.link_id.desc())
    )
    return [(link, user) for link, user in rows]


def revoke_link(
    session: Session, *, patient_id: int, link_id: int, by: User, now: datetime
) -> CaregiverLink:
    """Revoke a caregiver's link: their access ends with this transaction."""
    link = session.get(CaregiverLink, link_id)
    if link is None or link.patient_id != patient_id:
        raise NotFoundError("Caregiver link not found.")
    if link.revoked_at is None:
        link.revoked_at = now
        link.revoked_by_user_id = by.user_id
        session.flush()
    return link
