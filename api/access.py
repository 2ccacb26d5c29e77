"""The access policy: who may do what to which patient. Every patient-scoped route goes here.

---
Each view method on a route with ``<patient_id>`` declares its action with ``@patient_action``.
A before-request hook, run before argument parsing, authenticates the caller, checks the action
against the policy, and audits the access. A route with ``<patient_id>`` and no declared action is
refused (and ``check_routes`` stops the app from starting with one). Patients the caller may not
see are answered 404, the same as patients that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from api.extensions import db, utcnow
from models.audit import record_event
from models.errors import NotFoundError, PermissionDeniedError
from models.patients import CaregiverLink, Patient
from models.teams import TeamMember
from models.users import Role, User

ACCESS_ATTRIBUTE = "_cartwatch_patient_action"


class Action(StrEnum):
    """What a caller wants to do to a patient."""

    READ = "read"  # see the record and its health data
    REPORT = "report"  # submit reports for the patient
    ENROLMENT = "enrolment"  # change enrolment details, reissue the activation code
    INVITE_CAREGIVER = "invite_caregiver"
    MANAGE_CAREGIVERS = "manage_caregivers"  # list and revoke caregiver links
    AUDIT = "audit"  # read the audit trail
    TRIAGE = "triage"  # acknowledge and resolve flags, read the clinical summary


ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset({Role.PATIENT, Role.CAREGIVER, Role.CLINICIAN}),
    Action.REPORT: frozenset({Role.PATIENT, Role.CAREGIVER}),
    Action.ENROLMENT: frozenset({Role.CLINICIAN}),
    Action.INVITE_CAREGIVER: frozenset({Role.PATIENT, Role.CLINICIAN}),
    Action.MANAGE_CAREGIVERS: frozenset({Role.PATIENT, Role.CLINICIAN}),
    Action.AUDIT: frozenset({Role.CLINICIAN, Role.ADMIN}),
    Action.TRIAGE: frozenset({Role.CLINICIAN}),
}


def visible_patients(user: User) -> Select[tuple[Patient]]:
    """Select the patients whose records ``user`` may see (none for admins)."""
    query = select(Patient)
    if user.role == Role.PATIENT:
        return query.where(Patient.user_id == user.user_id)
    if user.role == Role.CAREGIVER:
        return query.where(
            exists().where(
                CaregiverLink.patient_id == Patient.patient_id,
                CaregiverLink.caregiver_user_id == user.user_id,
                CaregiverLink.revoked_at.is_(None),
            )
        )
    if user.role == Role.CLINICIAN:
        return query.where(
            exists().where(
                TeamMember.team_id == Patient.team_id, TeamMember.user_id == user.user_id
            )
        )
    return query.where(False)


def authorize(session: Session, user: User, patient_id: int, action: Action) -> Patient:
    """Return the patient if ``user`` may do ``action`` to them; raise otherwise."""
    if user.role == Role.ADMIN and action is Action.AUDIT:
        patient = session.get(Patient, patient_id)
    else:
        patient = session.scalars(
            visible_patients(user).where(Patient.patient_id == patient_id)
        ).first()
    if patient is None:
        raise NotFoundError("Patient not found.")
    if Role(user.role) not in ALLOWED_ROLES[action]:
        raise PermissionDeniedError("Your role may not do this for this patient.")
    return patient


def patient_action(
    action: Action, audit: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare what a patient-scoped view method does, and the name its audit event gets."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, ACCESS_ATTRIBUTE, (action, audit))
        return view

    return decorator


def _declared_action(endpoint: str, method: str) -> tuple[Action, str] | None:
    view_func = current_app.view_functions.get(endpoint)
    view_class = getattr(view_func, "view_class", None)
    name = "get" if method == "HEAD" else method.lower()
    method_func = getattr(view_class, name, None) if view_class else view_func
    return getattr(method_func, ACCESS_ATTRIBUTE, None)


def audit(action: str, patient_id: int | None, user: User, outcome: str = "ok") -> None:
    """Append an audit event for ``user`` in this request's transaction."""
    record_event(
        db.session,
        action=action,
        patient_id=patient_id,
        actor_user_id=user.user_id,
        actor_role=user.role,
        request_id=g.get("request_id"),
        now=utcnow(),
        outcome=outcome,
    )


def enforce_patient_access() -> None:
    """Before any patient-scoped view runs: authenticate, authorise and audit."""
    from api.auth import current_user

    view_args = request.view_args or {}
    if "patient_id" not in view_args or request.method == "OPTIONS" or request.endpoint is None:
        return
    declared = _declared_action(request.endpoint, request.method)
    user = current_user()
    if declared is None:
        raise PermissionDeniedError("This route has no access rule.")
    action, audit_name = declared
    patient_id = view_args["patient_id"]
    try:
        g.patient = authorize(db.session, user, patient_id, action)
    except (NotFoundError, PermissionDeniedError) as refusal:
        # The refusal is audited and kept although the request fails.
        db.session.rollback()
        known = db.session.get(Patient, patient_id) is not None
        audit(audit_name, patient_id if known else None, user, outcome="denied")
        refusal.keep_changes = True
        raise
    audit(audit_name, patient_id, user)


def check_routes(app: Flask) -> None:
    """Refuse to start if a patient-scoped route lacks a declared action."""
    for rule in app.url_map.iter_rules():
        if "patient_id" not in rule.arguments:
            continue
        with app.test_request_context():
            for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
                if _declared_action(rule.endpoint, method) is None:
                    raise RuntimeError(f"{method} {rule.rule} has no @patient_action")


def init_app(app: Flask) -> None:
    """Install the access check before every request."""
    app.before_request(enforce_patient_access)
