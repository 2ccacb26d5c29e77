"""Check-in reminders and silence: patient, then caregivers, then (in the high-risk days) the team.

---
Each active patient carries its own due time (``next_checkin_action_at``, indexed), so a sweep
costs what is due, not the number of patients. Times are computed in the patient's own zone, so
a 09:00 check-in stays at 09:00 local across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from alerts.flags import start_escalation_clock
from alerts.notify import Directory, queue_to_caregivers, queue_to_patient, queue_to_team
from alerts.rules import RULES_BY_ID
from models.flags import Flag
from models.patients import Patient, PatientStatus, day_since_infusion
from models.teams import CareTeam

MISSED = RULES_BY_ID["R_MISSED_CHECKIN"]
LADDER_COLUMNS = ("checkin_slot_at", "checkin_stage", "next_checkin_action_at")


@dataclass(frozen=True)
class CheckinSettings:
    """Tunables of the silence ladder (design defaults, not clinical thresholds)."""

    caregiver_after: timedelta = timedelta(minutes=30)
    team_after: timedelta = timedelta(minutes=60)
    # Days since infusion when a missed check-in reaches the care team (issue default 0-14).
    high_risk_last_day: int = 14


def _local(times: Sequence[str]) -> list[time]:
    return sorted(time.fromisoformat(t) for t in times)


def next_checkin(times: Sequence[str], zone: str, after: datetime) -> datetime:
    """Return the first check-in instant strictly after ``after`` (UTC-aware in, aware out)."""
    tz = ZoneInfo(zone)
    local_day = after.astimezone(tz).date()
    for offset in range(3):
        day = local_day + timedelta(days=offset)
        for at in _local(times):
            candidate = datetime.combine(day, at, tzinfo=tz)
            if candidate > after:
                return candidate.astimezone(after.tzinfo)
    raise ValueError("no check-in time")


def previous_checkin(times: Sequence[str], zone: str, before: datetime) -> datetime:
    """Return the last check-in instant strictly before ``before``."""
    tz = ZoneInfo(zone)
    local_day = before.astimezone(tz).date()
    for offset in range(3):
        day = local_day - timedelta(days=offset)
        for at in reversed(_local(times)):
            candidate = datetime.combine(day, at, tzinfo=tz)
            if candidate < before:
                return candidate.astimezone(before.tzinfo)
    raise ValueError("no check-in time")


def monitoring_end(infusion: date, days: int, zone: str) -> datetime:
    """Return the instant the monitoring window closes: midnight after day ``days``, local."""
    end_local = datetime.combine(
        infusion + timedelta(days=days + 1), time(0), tzinfo=ZoneInfo(zone)
    )
    return end_local


def schedule(patient: Patient, now: datetime) -> None:
    """(Re)compute a patient's due times after enrolment or a change of schedule."""
    patient.monitoring_ends_at = monitoring_end(
        patient.infusion_date, patient.monitoring_days, patient.timezone
    ).astimezone(now.tzinfo)
    slot = next_checkin(patient.checkin_times, patient.timezone, now)
    active = patient.status == PatientStatus.ACTIVE and slot < patient.monitoring_ends_at
    patient.checkin_slot_at = slot if active else None
    patient.checkin_stage = 0
    patient.next_checkin_action_at = slot if active else None


def has_checked_in(patient: Patient, slot: datetime) -> bool:
    """Tell whether a report was recorded since the check-in before ``slot``."""
    since = previous_checkin(patient.checkin_times, patient.timezone, slot)
    return patient.last_report_at is not None and patient.last_report_at > since


def _advance(patient: Patient, now: datetime) -> None:
    slot = patient.checkin_slot_at or now
    nxt = next_checkin(patient.checkin_times, patient.timezone, max(slot, now))
    ends = patient.monitoring_ends_at
    patient.checkin_stage = 0
    if ends is not None and nxt >= ends:
        patient.checkin_slot_at = patient.next_checkin_action_at = None
    else:
        patient.checkin_slot_at = patient.next_checkin_action_at = nxt


def step_checkin(
    session: Session,
    patient: Patient,
    now: datetime,
    settings: CheckinSettings,
    directory: Directory | None = None,
) -> str:
    """Move one patient's silence ladder one step; return what was done.

    ---
    Within a sweep the caller's ``directory.flush()`` queues the missed check-in alerts; called
    alone, this step does it itself.
    """
    if directory is None:
        directory = Directory(session)
        outcome = step_checkin(session, patient, now, settings, directory)
        directory.flush()
        return outcome
    outcome = _step(session, patient, now, settings, directory)
    # Every step writes the same three columns, so that the flush can write a whole batch of
    # patients with one executemany (the ORM batches only rows that change the same columns).
    for column in LADDER_COLUMNS:
        flag_modified(patient, column)
    return outcome


def _step(
    session: Session,
    patient: Patient,
    now: datetime,
    settings: CheckinSettings,
    directory: Directory,
) -> str:
    slot = patient.checkin_slot_at
    if slot is None:
        patient.next_checkin_action_at = None
        return "unscheduled"
    if has_checked_in(patient, slot):
        _advance(patient, now)
        return "checked_in"
    team = directory.team(patient.team_id)
    if patient.checkin_stage == 0:
        user = directory.user(patient.user_id) if patient.user_id else None
        if user is not None:
            queue_to_patient(
                session,
                patient=patient,
                address=user.email,
                kind="reminder",
                now=now,
                subject="[cartwatch] Time for your check-in",
                text="Please send your symptoms and temperature in the cartwatch app now.",
            )
        patient.checkin_stage = 1
        patient.next_checkin_action_at = slot + settings.caregiver_after
        return "patient_reminded"
    if patient.checkin_stage == 1:
        queue_to_caregivers(
            session,
            patient=patient,
            team=team,
            kind="reminder",
            now=now,
            directory=directory,
            subject=f"[cartwatch] {patient.display_name} has not checked in",
            text=f"{patient.display_name} has not sent a report since the last check-in. "
            "Please check on them and send the report in the app, or call the care team on "
            f"{team.phone}.",
        )
        patient.checkin_stage = 2
        patient.next_checkin_action_at = slot + settings.team_after
        return "caregivers_reminded"
    day = day_since_infusion(patient, slot)
    if 0 <= day <= settings.high_risk_last_day:
        _missed_checkin_flag(session, patient, team, slot, day, now, directory)
        _advance(patient, now)
        return "team_notified"
    _advance(patient, now)
    return "missed_outside_high_risk_days"


def _missed_checkin_flag(
    session: Session,
    patient: Patient,
    team: CareTeam,
    slot: datetime,
    day: int,
    now: datetime,
    directory: Directory,
) -> None:
    inputs = {
        "checkin_at": slot.isoformat(),
        "last_report_at": patient.last_report_at.isoformat() if patient.last_report_at else None,
        "day_since_infusion": day,
    }
    flag = Flag(
        patient_id=patient.patient_id,
        rule_id=MISSED.rule_id,
        rule_version=MISSED.version,
        level=MISSED.level,
        threshold_version=0,
        inputs=inputs,
        status="open",
        first_report_id=None,
        last_report_id=None,
        occurrences=1,
        raised_at=now,
        last_seen_at=now,
        data_recorded_at=None,
    )
    start_escalation_clock(team, flag, now)
    session.add(flag)
    # The alert's payload names the flag: queue it once the batch's flush gave the flag an id.
    directory.after_flush(
        lambda: queue_to_team(
            session,
            team=team,
            patient=patient,
            flags=[flag],
            kind="missed_checkin",
            event="checkin.missed",
            headline="missed check-in",
            day=day,
            now=now,
            directory=directory,
        )
    )


def due_checkins(session: Session, now: datetime, limit: int) -> Sequence[Patient]:
    """Return active patients with a check-in step due (an indexed read)."""
    return session.scalars(
        select(Patient)
        .where(Patient.next_checkin_action_at <= now, Patient.status == PatientStatus.ACTIVE)
        .order_by(Patient.next_checkin_action_at)
        .limit(limit)
    ).all()


def complete_due_windows(session: Session, now: datetime) -> int:
    """Move every active patient whose monitoring window closed to completed, in one UPDATE.

    Reports are still accepted and judged afterwards; only the reminders stop.
    """
    result = session.execute(
        update(Patient)
        .where(Patient.monitoring_ends_at <= now, Patient.status == PatientStatus.ACTIVE)
        .values(
            status=PatientStatus.COMPLETED.value, checkin_slot_at=None, next_checkin_action_at=None
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
