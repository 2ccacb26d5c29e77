"""The care team's worklist, flag handling, and what the reporter sees of it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from alerts.flags import Outcome, acknowledge_flag, resolve_flag
from alerts.intake import day_since_infusion
from alerts.rules import RULES_BY_ID
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


def patient_brief(patient: Patient) -> dict[str, Any]:
    """Describe a patient for the worklist."""
    return {
        "patient_id": patient.patient_id,
        "display_name": patient.display_name,
        "mrn": patient.mrn,
        "product": patient.product,
        "day_since_infusion": day_since_infusion(patient, utcnow()),
        "last_report_at": patient.last_report_at,
    }


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
        items = []
        for flag in page_of(db.session, query, pagination_parameters):
            patient = db.session.get(Patient, flag.patient_id)
            assert patient is not None
            audit("flag.worklist", patient.patient_id, user)
            rule = RULES_BY_ID.get(flag.rule_id)
            report_id = flag.last_report_id
            items.append(
                {
                    **{c.key: getattr(flag, c.key) for c in Flag.__table__.columns},
                    "rule": {
                        "clinician_summary": rule.clinician_summary if rule else "",
                        "source": rule.source if rule else "",
                    },
                    "patient": patient_brief(patient),
                    "report": reports.get_report(db.session, patient.patient_id, report_id)
                    if report_id
                    else None,
                    "last_readings": reports.latest_report(db.session, patient.patient_id),
                }
            )
        return items


@blp.route(f"/patients/{PATIENT_ID}/flags")
class PatientFlags(MethodView):
    @patient_action(Action.READ, "flag.list")
    @blp.response(200, PatientFlagSchema(many=True))
    def get(self, patient_id: int) -> list[dict[str, Any]]:
        """List a patient's open and acknowledged flags, saying whether the team has seen each."""
        patient: Patient = g.patient
        team = teams.get_team(db.session, patient.team_id)
        seen, unseen = STATUS_TEXT.get(patient.language, STATUS_TEXT["en"])
        zone = ZoneInfo(patient.timezone)
        result = []
        for flag in flags.patient_flags(db.session, patient_id, LIVE):
            if flag.acknowledged_at is not None:
                message = seen.format(time=flag.acknowledged_at.astimezone(zone).strftime("%H:%M"))
            else:
                message = unseen.format(phone=team.phone)
            result.append(
                {
                    **{c.key: getattr(flag, c.key) for c in Flag.__table__.columns},
                    "status_message": message,
                }
            )
        return result


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
            "patient": patient_brief(patient),
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
