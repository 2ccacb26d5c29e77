"""Who is told what, queued in the outbox inside the transaction that raised the alert.

---
Messages name the patient and what fired; they go to the care team's own targets, its on-call
and fallback contacts, and the patient's linked caregivers, never to logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.rules import RULES_BY_ID
from models.flags import Flag
from models.outbox import active_targets, add_message
from models.patients import Patient, caregiver_links
from models.teams import CareTeam

LEVEL_WORD = {"emergency": "EMERGENCY", "urgent": "URGENT", "watch": "watch"}


def _flag_lines(flags: Sequence[Flag]) -> list[str]:
    lines = []
    for flag in flags:
        rule = RULES_BY_ID.get(flag.rule_id)
        summary = rule.clinician_summary if rule else flag.rule_id
        values = ", ".join(f"{k} {v}" for k, v in flag.inputs.items())
        lines.append(f"- [{flag.level}] {flag.rule_id}: {summary} ({values})")
    return lines


def _flag_payload(flags: Sequence[Flag]) -> list[dict[str, Any]]:
    return [
        {
            "flag_id": flag.flag_id,
            "rule_id": flag.rule_id,
            "rule_version": flag.rule_version,
            "level": flag.level,
            "inputs": flag.inputs,
            "threshold_version": flag.threshold_version,
            "raised_at": flag.raised_at.isoformat(),
        }
        for flag in flags
    ]


def _patient_payload(patient: Patient, day: int | None) -> dict[str, Any]:
    return {
        "patient_id": patient.patient_id,
        "display_name": patient.display_name,
        "mrn": patient.mrn,
        "product": patient.product,
        "day_since_infusion": day,
    }


def queue_to_team(
    session: Session,
    *,
    team: CareTeam,
    patient: Patient,
    flags: Sequence[Flag],
    kind: str,
    event: str,
    headline: str,
    day: int | None,
    now: datetime,
    extra: dict[str, Any] | None = None,
    contacts: Sequence[tuple[str, str, dict[str, str]]] | None = None,
) -> list[str]:
    """Queue one message per team target (or per given contact); return who was notified."""
    level = max((f.level for f in flags), key=lambda lv: ["watch", "urgent", "emergency"].index(lv))
    subject = f"[cartwatch] {LEVEL_WORD[level]}: {patient.display_name} - {headline}"
    text = "\n".join(
        [
            f"{headline}: {patient.display_name} (patient {patient.patient_id}, "
            f"{patient.product}, day {day} after infusion).",
            *_flag_lines(flags),
            "Acknowledge in the cartwatch worklist.",
        ]
    )
    payload = {
        "event": event,
        "level": level,
        "patient": _patient_payload(patient, day),
        "flags": _flag_payload(flags),
        **(extra or {}),
    }
    notified = []
    for channel, label, target in (
        contacts if contacts is not None else team_contacts(session, team)
    ):
        add_message(
            session,
            kind=kind,
            channel=channel,
            target=target,
            recipient=label,
            subject=subject,
            text=text,
            payload=payload | {"recipient": label},
            now=now,
            patient_id=patient.patient_id,
            flag_id=flags[0].flag_id,
        )
        notified.append(f"{channel}:{label}")
    return notified


def queue_to_caregivers(
    session: Session,
    *,
    patient: Patient,
    team: CareTeam,
    subject: str,
    text: str,
    kind: str,
    now: datetime,
    flag_id: int | None = None,
    exclude_user_id: int | None = None,
) -> list[str]:
    """E-mail every live caregiver of the patient (but the one who reported, if any)."""
    notified = []
    for link, user in caregiver_links(session, patient.patient_id):
        if link.revoked_at is not None or user.user_id == exclude_user_id:
            continue
        recipient = f"caregiver {user.user_id}"
        _email(session, patient, user.email, recipient, subject, text, kind, now, flag_id)
        notified.append(f"email:{recipient}")
    return notified


def queue_to_patient(
    session: Session,
    *,
    patient: Patient,
    address: str,
    subject: str,
    text: str,
    kind: str,
    now: datetime,
) -> None:
    """E-mail the patient (reminders)."""
    _email(session, patient, address, f"patient {patient.patient_id}", subject, text, kind, now)


def _email(
    session: Session,
    patient: Patient,
    address: str,
    recipient: str,
    subject: str,
    text: str,
    kind: str,
    now: datetime,
    flag_id: int | None = None,
) -> None:
    add_message(
        session,
        kind=kind,
        channel="email",
        target={"address": address},
        recipient=recipient,
        subject=subject,
        text=text,
        payload={"event": kind, "patient_id": patient.patient_id},
        now=now,
        patient_id=patient.patient_id,
        flag_id=flag_id,
    )


def team_contacts(session: Session, team: CareTeam) -> list[tuple[str, str, dict[str, str]]]:
    """Return the team's own alert targets (webhooks, mailboxes, phones, devices)."""
    return [(t.channel, t.label, dict(t.target)) for t in active_targets(session, team.team_id)]


def on_call_contacts(team: CareTeam) -> list[tuple[str, str, dict[str, str]]]:
    """Return the on-call contact's channels (SMS to the phone, e-mail)."""
    return _contacts("on-call", team.on_call_phone, team.on_call_email)


def fallback_contacts(team: CareTeam) -> list[tuple[str, str, dict[str, str]]]:
    """Return the fallback contact's channels."""
    return _contacts("fallback", team.fallback_phone, team.fallback_email)


def _contacts(
    label: str, phone: str | None, email: str | None
) -> list[tuple[str, str, dict[str, str]]]:
    contacts = []
    if phone:
        contacts.append(("sms", label, {"number": phone}))
    if email:
        contacts.append(("email", label, {"address": email}))
    return contacts
