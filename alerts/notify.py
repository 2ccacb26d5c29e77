"""Who is told what, queued in the outbox inside the transaction that raised the alert.

---
Messages name the patient and what fired; they go to the care team's own targets, its on-call
and fallback contacts, and the patient's linked caregivers, never to logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.rules import RULES_BY_ID
from models.flags import Flag
from models.outbox import NotificationTarget, add_message, write_pending
from models.patients import CaregiverLink, Patient
from models.teams import CareTeam
from models.users import User

Contact = tuple[str, str, dict[str, str]]  # (channel, label, target)


class Directory:
    """The people and places notifications go to, looked up once per transaction.

    ---
    A sweep preloads its whole batch with a few IN queries instead of a few queries per item;
    intake looks up lazily. Holding the objects here also keeps them in the session's identity
    map, which holds unchanged objects only weakly.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.patients: dict[int, Patient] = {}
        self.teams: dict[int, CareTeam] = {}
        self.users: dict[int, User] = {}
        self._targets: dict[int, list[Contact]] = {}
        self._caregivers: dict[int, list[User]] = {}
        # Notifications that name rows not flushed yet: queued after the batch's one flush.
        self._after_flush: list[Callable[[], object]] = []

    def after_flush(self, work: Callable[[], object]) -> None:
        """Run ``work`` once the pending rows have ids (see ``flush``)."""
        self._after_flush.append(work)

    def discard(self) -> None:
        """Forget the waiting notifications of work that was rolled back."""
        self._after_flush.clear()

    def flush(self) -> None:
        """Flush the session, queue the notifications that waited for ids, write the outbox."""
        self.session.flush()
        waiting, self._after_flush = self._after_flush, []
        for work in waiting:
            work()
        write_pending(self.session)

    def load_patients(self, patient_ids: Iterable[int]) -> list[Patient]:
        """Load patients by id in one query."""
        wanted = set(patient_ids) - self.patients.keys()
        if wanted:
            for patient in self.session.scalars(
                select(Patient).where(Patient.patient_id.in_(wanted))
            ):
                self.patients[patient.patient_id] = patient
        return [self.patients[i] for i in patient_ids if i in self.patients]

    def preload(self, patients: Iterable[Patient]) -> None:
        """Load the teams, targets, logins and caregivers of these patients in four queries."""
        patients = list(patients)
        self.patients.update({p.patient_id: p for p in patients})
        team_ids = {p.team_id for p in patients} - self.teams.keys()
        if team_ids:
            for team in self.session.scalars(
                select(CareTeam).where(CareTeam.team_id.in_(team_ids))
            ):
                self.teams[team.team_id] = team
            for team_id in team_ids:
                self._targets.setdefault(team_id, [])
            for target in self.session.scalars(
                select(NotificationTarget)
                .where(NotificationTarget.team_id.in_(team_ids), NotificationTarget.is_active)
                .order_by(NotificationTarget.target_id)
            ):
                self._targets[target.team_id].append(_contact(target))
        user_ids = {p.user_id for p in patients if p.user_id is not None} - self.users.keys()
        if user_ids:
            for user in self.session.scalars(select(User).where(User.user_id.in_(user_ids))):
                self.users[user.user_id] = user
        patient_ids = {p.patient_id for p in patients} - self._caregivers.keys()
        if patient_ids:
            for patient_id in patient_ids:
                self._caregivers[patient_id] = []
            for patient_id, user in self.session.execute(_live_caregivers(patient_ids)):
                self._caregivers[patient_id].append(user)

    def patient(self, patient_id: int) -> Patient:
        """Return a patient."""
        if patient_id not in self.patients:
            self.load_patients([patient_id])
        return self.patients[patient_id]

    def team(self, team_id: int) -> CareTeam:
        """Return a care team."""
        if team_id not in self.teams:
            team = self.session.get(CareTeam, team_id)
            if team is None:
                raise LookupError(f"care team {team_id}")
            self.teams[team_id] = team
        return self.teams[team_id]

    def user(self, user_id: int) -> User | None:
        """Return a user."""
        if user_id not in self.users:
            user = self.session.get(User, user_id)
            if user is None:
                return None
            self.users[user_id] = user
        return self.users[user_id]

    def targets(self, team_id: int) -> list[Contact]:
        """Return the team's own active alert targets."""
        if team_id not in self._targets:
            self._targets[team_id] = [
                _contact(t)
                for t in self.session.scalars(
                    select(NotificationTarget)
                    .where(NotificationTarget.team_id == team_id, NotificationTarget.is_active)
                    .order_by(NotificationTarget.target_id)
                )
            ]
        return self._targets[team_id]

    def caregivers(self, patient_id: int) -> list[User]:
        """Return the patient's caregivers with a live link."""
        if patient_id not in self._caregivers:
            self._caregivers[patient_id] = [
                u for _, u in self.session.execute(_live_caregivers({patient_id}))
            ]
        return self._caregivers[patient_id]


def _contact(target: NotificationTarget) -> Contact:
    return (target.channel, target.label, dict(target.target))


def _live_caregivers(patient_ids: set[int]) -> Any:
    return (
        select(CaregiverLink.patient_id, User)
        .join(User, User.user_id == CaregiverLink.caregiver_user_id)
        .where(CaregiverLink.patient_id.in_(patient_ids), CaregiverLink.revoked_at.is_(None))
        .order_by(CaregiverLink.created_at.desc(), CaregiverLink.link_id.desc())
    )


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
    contacts: Sequence[Contact] | None = None,
    directory: Directory | None = None,
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
    if contacts is None:
        contacts = (directory or Directory(session)).targets(team.team_id)
    for channel, label, target in contacts:
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
            flag=flags[0],
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
    flag: Flag | None = None,
    exclude_user_id: int | None = None,
    directory: Directory | None = None,
) -> list[str]:
    """E-mail every live caregiver of the patient (but the one who reported, if any)."""
    notified = []
    for user in (directory or Directory(session)).caregivers(patient.patient_id):
        if user.user_id == exclude_user_id:
            continue
        recipient = f"caregiver {user.user_id}"
        _email(session, patient, user.email, recipient, subject, text, kind, now, flag)
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
    flag: Flag | None = None,
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
        flag=flag,
    )


def on_call_contacts(team: CareTeam) -> list[Contact]:
    """Return the on-call contact's channels (SMS to the phone, e-mail)."""
    return _contacts("on-call", team.on_call_phone, team.on_call_email)


def fallback_contacts(team: CareTeam) -> list[Contact]:
    """Return the fallback contact's channels."""
    return _contacts("fallback", team.fallback_phone, team.fallback_email)


def _contacts(label: str, phone: str | None, email: str | None) -> list[Contact]:
    contacts = []
    if phone:
        contacts.append(("sms", label, {"number": phone}))
    if email:
        contacts.append(("email", label, {"address": email}))
    return contacts
