"""Record a report: store, judge, raise or join flags and build the prompt, in one transaction.

---
Nothing is sent from here: notifications are written to the outbox in the same transaction, so
the answer to the phone never waits on a webhook, a mail server or an SMS provider.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.evaluate import Finding, History, Ice, Observation, evaluate, report_level
from alerts.flags import ESCALATING_LEVELS, start_escalation_clock
from alerts.notify import queue_to_caregivers, queue_to_team
from alerts.prompts import build_prompt
from models.errors import ConflictError, InvalidInputError
from models.flags import Flag, ReportFinding, flags_of_report, open_flags
from models.outbox import write_pending
from models.patients import Patient, day_since_infusion
from models.reports import Report, ReportSymptom, recent_history, report_by_client_id
from models.teams import CareTeam
from models.thresholds import current_thresholds
from models.users import User

ICE_ITEMS = ("orientation", "naming", "commands", "writing", "attention")


@dataclass(frozen=True)
class IntakeSettings:
    """Tunables of report intake (defaults; the app config may override them)."""

    # Phones' clocks drift; a report a little "in the future" is still accepted.
    clock_skew: timedelta = timedelta(minutes=5)
    # Late (offline) data older than this is refused as implausible.
    max_age: timedelta = timedelta(days=365)
    # How far back the history rules look (the fever-returned rule needs the last fever).
    history_window: timedelta = timedelta(days=14)
    # ...and at most this many reports back (a patient reports a few times a day; the cap keeps
    # one request's memory and time bounded however often someone submits).
    history_limit: int = 200
    # A rule firing again within this time joins the patient's unacknowledged flag.
    flag_merge_window: timedelta = timedelta(hours=12)


@dataclass
class IntakeResult:
    """What the phone gets back: the report, the flags it raised or joined, and the prompt."""

    report: Report
    flags: list[dict[str, Any]]
    prompt: dict[str, Any]
    replayed: bool


def body_hash(data: Mapping[str, Any]) -> str:
    """Fingerprint a validated report body, to tell a retry from a different report."""
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def observation_from(data: Mapping[str, Any], recorded_at: datetime) -> Observation:
    """Turn a validated report body into the rule engine's input."""
    return Observation(
        recorded_at=recorded_at,
        temperature_c=data.get("temperature_c"),
        heart_rate=data.get("heart_rate"),
        systolic_bp=data.get("systolic_bp"),
        diastolic_bp=data.get("diastolic_bp"),
        spo2=data.get("spo2"),
        symptoms={s["code"]: s["severity"] for s in data.get("symptoms", ())},
        ice=Ice(**data["ice"]) if data.get("ice") else None,
        antipyretic_last_6h=data.get("antipyretic_last_6h"),
    )


def flag_view(finding: ReportFinding, flag: Flag, report: Report) -> dict[str, Any]:
    """Describe a flag as raised or joined by one report."""
    return {
        "flag_id": flag.flag_id,
        "rule_id": finding.rule_id,
        "rule_version": finding.rule_version,
        "level": finding.level,
        "threshold_version": finding.threshold_version,
        "inputs": finding.inputs,
        "status": flag.status,
        "is_new": flag.first_report_id == report.report_id,
        "occurrences": flag.occurrences,
        "raised_at": flag.raised_at,
        "data_recorded_at": report.recorded_at,
        "data_age_seconds": max(0, int((report.received_at - report.recorded_at).total_seconds())),
    }


def report_flags(session: Session, report: Report) -> list[dict[str, Any]]:
    """Return a stored report's flags, in the rule engine's order (most severe first)."""
    views = [flag_view(f, flag, report) for f, flag in flags_of_report(session, report.report_id)]
    order = {rule_id: i for i, rule_id in enumerate(report.prompt.get("rule_order", []))}
    return sorted(views, key=lambda view: order.get(view["rule_id"], len(order)))


def _check_time(recorded_at: datetime, now: datetime, settings: IntakeSettings) -> None:
    if recorded_at > now + settings.clock_skew:
        raise InvalidInputError(
            "recorded_at is in the future.",
            {"recorded_at": ["Must not be in the future (check the phone's clock)."]},
        )
    if recorded_at < now - settings.max_age:
        raise InvalidInputError("recorded_at is too old.", {"recorded_at": ["Older than a year."]})


def _history(
    session: Session, patient: Patient, recorded_at: datetime, settings: IntakeSettings
) -> History:
    rows = recent_history(
        session,
        patient.patient_id,
        since=recorded_at - settings.history_window,
        before=recorded_at,
        limit=settings.history_limit,
    )
    earlier = [
        Observation(
            recorded_at=at,
            temperature_c=temperature,
            heart_rate=None,
            systolic_bp=None,
            diastolic_bp=None,
            spo2=None,
            symptoms=symptoms,
            ice=None,
            antipyretic_last_6h=None,
        )
        for at, temperature, symptoms in rows
    ]
    return History(earlier=earlier, ice_baseline=patient.ice_baseline)


def _raise_flags(
    session: Session,
    report: Report,
    findings: list[Finding],
    threshold_version: int,
    now: datetime,
    settings: IntakeSettings,
) -> list[tuple[ReportFinding, Flag]]:
    """Raise a flag per finding, or join the patient's open flag of the same rule."""
    if not findings:
        return []
    joinable = open_flags(
        session, report.patient_id, [f.rule_id for f in findings], now - settings.flag_merge_window
    )
    flags = []
    for finding in findings:
        flag = joinable.get(finding.rule_id)
        if flag is None:
            flag = Flag(
                patient_id=report.patient_id,
                rule_id=finding.rule_id,
                rule_version=finding.rule_version,
                level=finding.level,
                threshold_version=threshold_version,
                inputs=dict(finding.inputs),
                status="open",
                first_report_id=report.report_id,
                last_report_id=report.report_id,
                occurrences=1,
                raised_at=now,
                last_seen_at=now,
                data_recorded_at=report.recorded_at,
            )
            session.add(flag)
        else:
            flag.occurrences += 1
            flag.last_report_id = report.report_id
            flag.last_seen_at = now
        flags.append(flag)
    session.flush()  # the new flags get their ids in one round
    raised = [
        (
            ReportFinding(
                report_id=report.report_id,
                flag_id=flag.flag_id,
                rule_id=finding.rule_id,
                rule_version=finding.rule_version,
                level=finding.level,
                threshold_version=threshold_version,
                inputs=dict(finding.inputs),
            ),
            flag,
        )
        for finding, flag in zip(findings, flags, strict=True)
    ]
    session.add_all([finding for finding, _ in raised])
    return raised


def _notify(
    session: Session,
    patient: Patient,
    team: CareTeam,
    report: Report,
    raised: list[tuple[ReportFinding, Flag]],
    reporter: User,
    now: datetime,
) -> None:
    """Tell the team (and the other caregivers) about new urgent or emergency flags."""
    alerting = [
        flag
        for _, flag in raised
        if flag.first_report_id == report.report_id and flag.level in ESCALATING_LEVELS
    ]
    if not alerting:
        return
    for flag in alerting:
        start_escalation_clock(team, flag, now)
    queue_to_team(
        session,
        team=team,
        patient=patient,
        flags=[flag for _, flag in raised],
        kind="flag",
        event="flags.raised",
        headline=f"{report.level} report",
        day=report.day_since_infusion,
        now=now,
        extra={
            "report_id": report.report_id,
            "reporter_role": report.reporter_role,
            "patient_told": report.prompt["action"],
        },
    )
    queue_to_caregivers(
        session,
        patient=patient,
        team=team,
        kind="flag_caregiver",
        now=now,
        flag=alerting[0],
        exclude_user_id=reporter.user_id,
        subject=f"[cartwatch] {patient.display_name}: {report.prompt['action'].replace('_', ' ')}",
        text=f"{patient.display_name} sent a report that needs action now. "
        f"The app told them:\n\n{report.prompt['message']}",
    )


def record_report(
    session: Session,
    *,
    patient: Patient,
    team: CareTeam,
    reporter: User,
    data: Mapping[str, Any],
    now: datetime,
    settings: IntakeSettings = IntakeSettings(),
) -> IntakeResult:
    """Store and judge one report; a retry of the same report returns the first answer."""
    fingerprint = body_hash(data)
    client_id = str(data["client_report_id"])
    existing = report_by_client_id(session, patient.patient_id, client_id)
    if existing is not None:
        return _replay(session, existing, fingerprint)

    recorded_at: datetime = data["recorded_at"]
    _check_time(recorded_at, now, settings)
    threshold_version, thresholds = current_thresholds(session, patient.team_id)
    observation = observation_from(data, recorded_at)
    findings = evaluate(observation, _history(session, patient, recorded_at, settings), thresholds)
    prompt = build_prompt(findings, patient.language, team.phone)
    recheck_at = (
        now + timedelta(minutes=prompt.recheck_in_minutes) if prompt.recheck_in_minutes else None
    )

    report = Report(
        patient_id=patient.patient_id,
        client_report_id=client_id,
        body_hash=fingerprint,
        reporter_user_id=reporter.user_id,
        reporter_role=reporter.role,
        recorded_at=recorded_at,
        received_at=now,
        day_since_infusion=day_since_infusion(patient, recorded_at),
        temperature_c=data.get("temperature_c"),
        temperature_entered=data.get("temperature_entered"),
        temperature_unit=data.get("temperature_unit"),
        heart_rate=data.get("heart_rate"),
        systolic_bp=data.get("systolic_bp"),
        diastolic_bp=data.get("diastolic_bp"),
        spo2=data.get("spo2"),
        ice=dict(data["ice"]) if data.get("ice") else None,
        ice_total=observation.ice.total if observation.ice else None,
        antipyretic_last_6h=data.get("antipyretic_last_6h"),
        note=data.get("note"),
        level=report_level(findings),
        threshold_version=threshold_version,
        prompt={
            "level": prompt.level,
            "action": prompt.action,
            "message": prompt.message,
            "phone": prompt.phone,
            "recheck_in_minutes": prompt.recheck_in_minutes,
            "recheck_at": recheck_at.isoformat() if recheck_at else None,
            "rule_order": [f.rule_id for f in findings],
        },
        symptoms=[
            ReportSymptom(code=s["code"], severity=s["severity"]) for s in data.get("symptoms", ())
        ],
    )
    try:
        # A savepoint, so that a concurrent retry of the same report is answered, not a 500.
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        existing = report_by_client_id(session, patient.patient_id, client_id)
        if existing is None:
            raise
        return _replay(session, existing, fingerprint)

    raised = _raise_flags(session, report, findings, threshold_version, now, settings)
    _notify(session, patient, team, report, raised, reporter, now)
    if patient.last_report_at is None or recorded_at > patient.last_report_at:
        patient.last_report_at = recorded_at
    if patient.ice_baseline is None and observation.ice is not None:
        # The first complete neuro check becomes the patient's own baseline.
        patient.ice_baseline = observation.ice.total
    session.flush()
    write_pending(session)
    return IntakeResult(
        report, [flag_view(f, flag, report) for f, flag in raised], _prompt(report), False
    )


def stored_answer(session: Session, report: Report, *, replayed: bool = True) -> IntakeResult:
    """Return the answer a stored report gave: itself, its flags and its prompt."""
    return IntakeResult(report, report_flags(session, report), _prompt(report), replayed)


def _prompt(report: Report) -> dict[str, Any]:
    return {key: value for key, value in report.prompt.items() if key != "rule_order"}


def _replay(session: Session, existing: Report, fingerprint: str) -> IntakeResult:
    if existing.body_hash != fingerprint:
        raise ConflictError(
            "A different report was already sent with this client_report_id.",
            {"client_report_id": ["Already used for a different report."]},
        )
    return stored_answer(session, existing)
