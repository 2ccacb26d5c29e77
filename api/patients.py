"""Enrolment and patient records."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from api.access import Action, audit, patient_action, visible_patients
from api.auth import current_user, roles_required
from api.extensions import db, utcnow
from api.pagination import page_of
from api.teams import team_for
from models import patients
from models.audit import patient_audit_query
from models.patients import CodeKind, Patient
from models.users import Role
from schemas.audit import AuditEventSchema
from schemas.patients import (
    CodeSchema,
    EnrolmentSchema,
    PatientQueryArgsSchema,
    PatientSchema,
    PatientUpdateSchema,
)

blp = Blueprint("patients", __name__, url_prefix="/api/v1/patients", description="Patients")
PATIENT_ID = "<int(max=2147483647):patient_id>"


@blp.route("")
class Patients(MethodView):
    @roles_required(Role.PATIENT, Role.CAREGIVER, Role.CLINICIAN)
    @blp.arguments(PatientQueryArgsSchema, location="query")
    @blp.response(200, PatientSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List the patients the caller may see."""
        user = current_user()
        query = visible_patients(user).order_by(Patient.display_name, Patient.patient_id)
        for key in ("status", "team_id"):
            if key in args:
                query = query.where(getattr(Patient, key) == args[key])
        page = page_of(db.session, query, pagination_parameters)
        for patient in page:
            audit("patient.list", patient.patient_id, user)
        return page

    @roles_required(Role.CLINICIAN)
    @blp.arguments(PatientSchema)
    @blp.response(201, EnrolmentSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Enrol a patient into one of the caller's teams; returns a one-time activation code."""
        user = current_user()
        team = team_for(user, data["team_id"], field="team_id")
        now = utcnow()
        lifetime = current_app.config["ACTIVATION_CODE_TTL"]
        patient, code = patients.enrol_patient(
            db.session, team=team, data=data, enrolled_by=user, now=now, code_lifetime=lifetime
        )
        audit("patient.enrol", patient.patient_id, user)
        return {"patient": patient, "activation": {"code": code, "expires_at": now + lifetime}}


@blp.route(f"/{PATIENT_ID}")
class PatientById(MethodView):
    @patient_action(Action.READ, "patient.read")
    @blp.response(200, PatientSchema)
    def get(self, patient_id: int) -> Patient:
        """Get a patient's record."""
        patient: Patient = g.patient
        return patient

    @patient_action(Action.ENROLMENT, "patient.update")
    @blp.arguments(PatientUpdateSchema(partial=True))
    @blp.response(200, PatientSchema)
    def patch(self, data: dict[str, Any], patient_id: int) -> Patient:
        """Change a patient's enrolment (care team only)."""
        return patients.update_patient(db.session, g.patient, changes=data, now=utcnow())


@blp.route(f"/{PATIENT_ID}/activation-code")
class ActivationCode(MethodView):
    @patient_action(Action.ENROLMENT, "patient.activation_code")
    @blp.response(201, CodeSchema)
    def post(self, patient_id: int) -> dict[str, Any]:
        """Issue a new activation code; earlier unused ones stop working."""
        now = utcnow()
        lifetime = current_app.config["ACTIVATION_CODE_TTL"]
        code = patients.issue_code(
            db.session,
            g.patient,
            kind=CodeKind.ACTIVATION,
            by=current_user(),
            now=now,
            lifetime=lifetime,
        )
        return {"code": code, "expires_at": now + lifetime}


@blp.route(f"/{PATIENT_ID}/audit")
class PatientAudit(MethodView):
    @patient_action(Action.AUDIT, "patient.audit_read")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(page_size=50)
    def get(self, patient_id: int, pagination_parameters: PaginationParameters) -> Any:
        """List who read or changed this patient's data, newest first (clinicians, admins)."""
        return page_of(db.session, patient_audit_query(patient_id), pagination_parameters)
