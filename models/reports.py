"""Daily reports: vital signs, symptoms and the caregiver's neuro check (ICE), as received."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, Hundredths


class Report(Base):
    """One report about one patient, by the patient or a caregiver, judged when received."""

    __tablename__ = "reports"
    __table_args__ = (
        # The phone's own id makes a retried submission land once.
        UniqueConstraint("patient_id", "client_report_id", name="uq_reports_patient_client_id"),
        Index("ix_reports_patient_recorded", "patient_id", "recorded_at"),
        CheckConstraint("level IN ('none', 'watch', 'urgent', 'emergency')", name="level"),
    )

    report_id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.patient_id"))
    client_report_id: Mapped[str] = mapped_column(String(36))
    body_hash: Mapped[str] = mapped_column(String(64))
    reporter_user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))
    reporter_role: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime]
    received_at: Mapped[datetime]
    day_since_infusion: Mapped[int]
    temperature_c: Mapped[Decimal | None] = mapped_column(Hundredths())
    temperature_entered: Mapped[Decimal | None] = mapped_column(Hundredths())
    temperature_unit: Mapped[str | None] = mapped_column(String(1))
    heart_rate: Mapped[int | None]
    systolic_bp: Mapped[int | None]
    diastolic_bp: Mapped[int | None]
    spo2: Mapped[int | None]
    ice: Mapped[dict[str, int] | None] = mapped_column(JSON)
    ice_total: Mapped[int | None]
    antipyretic_last_6h: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    threshold_version: Mapped[int]
    prompt: Mapped[dict[str, Any]] = mapped_column(JSON)

    symptoms: Mapped[list[ReportSymptom]] = relationship(
        order_by="ReportSymptom.code", cascade="all, delete-orphan", lazy="selectin"
    )


class ReportSymptom(Base):
    """A symptom and its severity (0-4) in one report; an absent code was not assessed."""

    __tablename__ = "report_symptoms"
    __table_args__ = (CheckConstraint("severity BETWEEN 0 AND 4", name="severity"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.report_id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[int]


def report_by_client_id(session: Session, patient_id: int, client_report_id: str) -> Report | None:
    """Find a report by the id the phone gave it."""
    return session.scalars(
        select(Report).where(
            Report.patient_id == patient_id, Report.client_report_id == client_report_id
        )
    ).first()


def get_report(session: Session, patient_id: int, report_id: int) -> Report | None:
    """Return one report of a patient."""
    report = session.get(Report, report_id)
    return report if report is not None and report.patient_id == patient_id else None


def reports_query(
    patient_id: int, since: datetime | None = None, until: datetime | None = None
) -> Select[Any]:
    """Select a patient's reports recorded in [since, until), newest first."""
    query = select(Report).where(Report.patient_id == patient_id)
    if since is not None:
        query = query.where(Report.recorded_at >= since)
    if until is not None:
        query = query.where(Report.recorded_at < until)
    return query.order_by(Report.recorded_at.desc(), Report.report_id.desc())


def recent_history(
    session: Session, patient_id: int, *, since: datetime, before: datetime, limit: int
) -> list[tuple[datetime, Decimal | None, dict[str, int]]]:
    """Return (recorded_at, temperature_c, symptoms) of the patient's latest ``limit`` reports
    recorded in [since, before), newest first: the history rules' one narrow query.
    """
    window = (
        select(Report.report_id, Report.recorded_at, Report.temperature_c)
        .where(
            Report.patient_id == patient_id,
            Report.recorded_at >= since,
            Report.recorded_at < before,
        )
        .order_by(Report.recorded_at.desc())
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(
            window.c.report_id,
            window.c.recorded_at,
            window.c.temperature_c,
            ReportSymptom.code,
            ReportSymptom.severity,
        )
        .outerjoin(ReportSymptom, ReportSymptom.report_id == window.c.report_id)
        .order_by(window.c.recorded_at.desc(), window.c.report_id)
    )
    history: dict[int, tuple[datetime, Decimal | None, dict[str, int]]] = {}
    for report_id, recorded_at, temperature_c, code, severity in rows:
        entry = history.setdefault(report_id, (recorded_at, temperature_c, {}))
        if code is not None:
            entry[2][code] = severity
    return list(history.values())


def reports_between_days(
    session: Session, patient_id: int, first_day: int, last_day: int
) -> list[Report]:
    """Load the reports of days since infusion first_day..last_day, for the daily summary."""
    return list(
        session.scalars(
            select(Report)
            .where(
                Report.patient_id == patient_id,
                Report.day_since_infusion >= first_day,
                Report.day_since_infusion <= last_day,
            )
            .order_by(Report.recorded_at)
        )
    )


def latest_report(session: Session, patient_id: int) -> Report | None:
    """Return the patient's most recently recorded report."""
    return session.scalars(reports_query(patient_id).limit(1)).first()
