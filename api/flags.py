"""The care team's worklist, flag handling, and what the reporter sees of it."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from alerts.flags import (
    Outcome,
    acknowledge_flag,
    patient_brief,
    resolve_flag,
    status_message,
    worklist_item,
)
from alerts.summary import daily_summary
from api.access import Action, audit, patient_action, visible_patients
from api.auth import current_user, roles_required
from api.extensions import db, utcnow
from api.pagination import page_of
from models import flags, patients, reports, teams
from models.errors import NotFoundError
from models.flags import Flag
from models.patients import Patient
from models.users import Role
from schemas.flags import (
    ClinicalSummarySchema,
    FlagSchema,
    PatientFlagSchema,
    ResolveSchema,
    WorklistArgsSchema,
    WorklistItemSchema,
)

blp = Blueprint("flags", __name__, url_prefix="/api/v1", description="Worklist and flags")
PATIENT_ID = "<int(max=2147483647):patient_id>"
FLAG_ID = "<int(max=2147483647):flag_id>"
LIVE = ["open", "acknowledged"]


def _flag(patient_id: int, flag_id: int) -> Flag:
    flag = flags.get_flag(db.session, patient_id, flag_id)
    if flag is None:
        raise NotFoundError("Flag not found.")
    return flag


@blp.route("/flags")
class Worklist(MethodView):
    @roles_required(Role.CLINICIAN)
    @blp.arguments(WorklistArgsSchema, location="query")
    @blp.response(200, WorklistItemSchema(many=True))
    @blp.paginate(page_size=50)
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List the flags of the caller's teams: most severe first, then oldest first."""
        user = current_user()
        visible = visible_patients(user)
        if "team_id" in args:
            visible = visible.where(Patient.team_id == args["team_id"])
        query = flags.worklist_query(
            visible.with_only_columns(Patient.patient_id),
            levels=args.get("level"),
            statuses=args.get("status") or LIVE,
            patient_id=args.get("patient_id"),
        )
        now = utcnow()
        items = []
        for flag in page_of(db.session, query, pagination_parameters):
            audit("flag.worklist", flag.patient_id, user)
            items.append(worklist_item(db.session, flag, now))
        return items


@blp.route(f"/patients/{PATIENT_ID}/flags")
class PatientFlags(MethodView):
    @patient_action(Action.READ, "flag.list")
    @blp.response(200, PatientFlagSchema(many=True))
    def get(self, patient_id: int) -> list[dict[str, Any]]:
        """List a patient's open and acknowledged flags, saying whether the team has seen each."""
        patient: Patient = g.patient
        team = teams.get_team(db.session, patient.team_id)
        return [
            flag.fields() | {"status_message": status_message(flag, patient, team)}
            for flag in flags.patient_flags(db.session, patient_id, LIVE)
        ]


@blp.route(f"/patients/{PATIENT_ID}/flags/{FLAG_ID}/acknowledge")
class Acknowledge(MethodView):
    @patient_action(Action.TRIAGE, "flag.acknowledge")
    @blp.response(200, FlagSchema)
    def post(self, patient_id: int, flag_id: int) -> Flag:
        """Acknowledge a flag: the team has seen it; escalation stops."""
        return acknowledge_flag(
            db.session, _flag(patient_id, flag_id), by=current_user(), now=utcnow()
        )


@blp.route(f"/patients/{PATIENT_ID}/flags/{FLAG_ID}/resolve")
class Resolve(MethodView):
    @patient_action(Action.TRIAGE, "flag.resolve")
    @blp.arguments(ResolveSchema)
    @blp.response(200, FlagSchema)
    def post(self, data: dict[str, Any], patient_id: int, flag_id: int) -> Flag:
        """Resolve a flag with its outcome and a note."""
        return resolve_flag(
            db.session,
            _flag(patient_id, flag_id),
            by=current_user(),
            outcome=Outcome(data["outcome"]),
            note=data.get("note"),
            now=utcnow(),
        )


@blp.route(f"/patients/{PATIENT_ID}/clinical-summary")
class ClinicalSummary(MethodView):
    @patient_action(Action.TRIAGE, "patient.clinical_summary")
    @blp.response(200, ClinicalSummarySchema)
    def get(self, patient_id: int) -> dict[str, Any]:
        """Summarise a patient: day, last report, open flags, daily summary, caregivers."""
        patient: Patient = g.patient
        return {
            "patient": patient_brief(patient, utcnow()),
            "status": patient.status,
            "infusion_date": patient.infusion_date,
            "monitoring_days": patient.monitoring_days,
            "open_flags": flags.patient_flags(db.session, patient_id, LIVE),
            "daily": daily_summary(
                reports.reports_between_days(db.session, patient_id, 0, patient.monitoring_days)
            ),
            "caregivers": [
                {
                    "user_id": user.user_id,
                    "display_name": user.display_name,
                    "relationship": link.relationship,
                }
                for link, user in patients.caregiver_links(db.session, patient_id)
                if link.revoked_at is None
            ],
        }
