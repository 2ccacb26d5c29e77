"""The care team's side of a flag: acknowledge, resolve, and escalate when nobody answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notify import Directory, fallback_contacts, on_call_contacts, queue_to_team
from alerts.rules import RULES_BY_ID
from models.errors import ConflictError
from models.flags import Flag, FlagEscalation
from models.patients import Patient, day_since_infusion
from models.reports import get_report, latest_report
from models.teams import CareTeam
from models.users import User

ESCALATING_LEVELS = ("urgent", "emergency")


class Outcome(StrEnum):
    """How a flag ended."""

    ADVISED_EMERGENCY = "advised_emergency_services"
    SEEN_IN_CLINIC = "seen_in_clinic"
    ADMITTED = "admitted"
    FALSE_ALARM = "false_alarm"
    OTHER = "other"


def escalation_delay(team: CareTeam, level: str) -> timedelta | None:
    """Return how long a flag of this level may wait for acknowledgement (None: never escalates)."""
    if level == "emergency":
        return timedelta(minutes=team.escalate_emergency_minutes)
    if level == "urgent":
        return timedelta(minutes=team.escalate_urgent_minutes)
    return None


def start_escalation_clock(team: CareTeam, flag: Flag, now: datetime) -> None:
    """Set when an unacknowledged flag escalates."""
    delay = escalation_delay(team, flag.level)
    flag.next_escalation_at = now + delay if delay is not None else None


def acknowledge_flag(session: Session, flag: Flag, *, by: User, now: datetime) -> Flag:
    """Record that a clinician saw the flag; escalation stops."""
    if flag.status == "resolved":
        raise ConflictError("This flag is already resolved.")
    if flag.status == "open":
        flag.status = "acknowledged"
        flag.acknowledged_at = now
        flag.acknowledged_by_user_id = by.user_id
        flag.next_escalation_at = None
        session.flush()
    return flag


def resolve_flag(
    session: Session, flag: Flag, *, by: User, outcome: Outcome, note: str | None, now: datetime
) -> Flag:
    """Close a flag with its outcome (acknowledging it too, if nobody had)."""
    if flag.status == "resolved":
        raise ConflictError("This flag is already resolved.")
    acknowledge_flag(session, flag, by=by, now=now)
    flag.status = "resolved"
    flag.resolved_at = now
    flag.resolved_by_user_id = by.user_id
    flag.outcome = outcome.value
    flag.resolution_note = note
    session.flush()
    return flag


def due_escalations(session: Session, now: datetime, limit: int) -> Sequence[Flag]:
    """Return open flags whose acknowledgement deadline has passed (an indexed read)."""
    return session.scalars(
        select(Flag)
        .where(Flag.next_escalation_at <= now, Flag.status == "open")
        .order_by(Flag.next_escalation_at)
        .limit(limit)
    ).all()


def escalate_flag(
    session: Session, flag: Flag, *, now: datetime, directory: Directory | None = None
) -> list[str]:
    """Take an unacknowledged flag one step up: on-call, then fallback, then everyone, again.

    ---
    A step whose contact is not configured falls through to everyone: an escalation never
    goes nowhere while anyone at all is configured.
    """
    directory = directory or Directory(session)
    patient = directory.patient(flag.patient_id)
    team = directory.team(patient.team_id)
    step = flag.escalation_step + 1
    on_call, fallback = on_call_contacts(team), fallback_contacts(team)
    if step == 1 and on_call:
        contacts = on_call
    elif step == 2 and fallback:
        contacts = fallback
    else:
        contacts = directory.targets(team.team_id) + on_call + fallback
    minutes = int((now - flag.raised_at).total_seconds() // 60)
    notified = queue_to_team(
        session,
        team=team,
        patient=patient,
        flags=[flag],
        kind="escalation",
        event="flag.escalated",
        headline=f"not acknowledged after {minutes} min",
        day=None,
        now=now,
        extra={"escalation_step": step},
        contacts=contacts,
    )
    session.add(FlagEscalation(flag_id=flag.flag_id, step=step, at=now, notified=notified))
    flag.escalation_step = step
    flag.next_escalation_at = now + (escalation_delay(team, flag.level) or timedelta(minutes=15))
    return notified


STATUS_TEXT = {
    "en": (
        "Your care team saw this at {time}.",
        "Your care team has not seen this yet. If you were told to call, call {phone} now.",
    ),
    "es": (
        "Su equipo de atención médica lo vio a las {time}.",
        "Su equipo de atención médica aún no lo ha visto. Si se le indicó llamar, llame "
        "ahora al {phone}.",
    ),
}


def status_message(flag: Flag, patient: Patient, team: CareTeam) -> str:
    """Tell the reporter, in their language and time zone, whether the team has seen the flag."""
    seen, unseen = STATUS_TEXT.get(patient.language, STATUS_TEXT["en"])
    if flag.acknowledged_at is None:
        return unseen.format(phone=team.phone)
    local = flag.acknowledged_at.astimezone(ZoneInfo(patient.timezone))
    return seen.format(time=local.strftime("%H:%M"))


def patient_brief(patient: Patient, now: datetime) -> dict[str, Any]:
    """Describe a patient for the care team: who, which product, which day since infusion."""
    return {
        "patient_id": patient.patient_id,
        "display_name": patient.display_name,
        "mrn": patient.mrn,
        "product": patient.product,
        "day_since_infusion": day_since_infusion(patient, now),
        "last_report_at": patient.last_report_at,
    }


def worklist_item(session: Session, flag: Flag, now: datetime) -> dict[str, Any]:
    """Describe a flag for the worklist: the rule and its source, the patient, the readings."""
    patient = session.get(Patient, flag.patient_id)
    if patient is None:
        raise ConflictError("Flag without patient.")
    rule = RULES_BY_ID.get(flag.rule_id)
    report = (
        get_report(session, patient.patient_id, flag.last_report_id)
        if flag.last_report_id
        else None
    )
    return flag.fields() | {
        "rule": {
            "clinician_summary": rule.clinician_summary if rule else "",
            "source": rule.source if rule else "",
        },
        "patient": patient_brief(patient, now),
        "report": report,
        "last_readings": latest_report(session, patient.patient_id),
    }
