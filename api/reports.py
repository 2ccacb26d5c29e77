"""Daily reports: submit (judged at once, with the prompt), list, read, and the daily summary."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from alerts.intake import IntakeResult, IntakeSettings, record_report, stored_answer
from alerts.summary import daily_summary
from api.access import Action, patient_action
from api.auth import current_user
from api.extensions import db, utcnow
from api.pagination import page_of
from models import reports, teams
from models.errors import NotFoundError
from models.reports import Report
from schemas.reports import (
    DaySummarySchema,
    IntakeSchema,
    ReportInSchema,
    ReportQueryArgsSchema,
    ReportSchema,
    SummaryQueryArgsSchema,
)

blp = Blueprint("reports", __name__, url_prefix="/api/v1/patients", description="Daily reports")
PATIENT_ID = "<int(max=2147483647):patient_id>"


def intake_settings() -> IntakeSettings:
    """Return the intake tunables, from the app config where set."""
    settings: IntakeSettings = current_app.config.get("INTAKE_SETTINGS", IntakeSettings())
    return settings


def intake_body(result: IntakeResult) -> dict[str, Any]:
    """Shape the answer to a report submission."""
    return {"report": result.report, "flags": result.flags, "prompt": result.prompt}


@blp.route(f"/{PATIENT_ID}/reports")
class Reports(MethodView):
    @patient_action(Action.REPORT, "report.create")
    @blp.arguments(ReportInSchema)
    @blp.response(
        201,
        IntakeSchema,
        headers={
            "Idempotent-Replayed": {
                "description": "true when this answers a retry",
                "schema": {"type": "string"},
            }
        },
    )
    @blp.alt_response(409, description="client_report_id already used for a different report")
    def post(self, data: dict[str, Any], patient_id: int) -> Any:
        """Submit a report; the answer says what to do now.

        ---
        Sending the same client_report_id again returns the first answer and stores nothing new.
        """
        patient = g.patient
        result = record_report(
            db.session,
            patient=patient,
            team=teams.get_team(db.session, patient.team_id),
            reporter=current_user(),
            data=data,
            now=utcnow(),
            settings=intake_settings(),
        )
        if result.replayed:
            return intake_body(result), {"Idempotent-Replayed": "true"}
        return intake_body(result)

    @patient_action(Action.READ, "report.list")
    @blp.arguments(ReportQueryArgsSchema, location="query")
    @blp.response(200, ReportSchema(many=True))
    @blp.paginate(page_size=20)
    def get(
        self, args: dict[str, Any], patient_id: int, pagination_parameters: PaginationParameters
    ) -> Any:
        """List a patient's reports, newest first, optionally between two times."""
        query = reports.reports_query(patient_id, args.get("since"), args.get("until"))
        return page_of(db.session, query, pagination_parameters)


@blp.route(f"/{PATIENT_ID}/reports/<int(max=2147483647):report_id>")
class ReportById(MethodView):
    @patient_action(Action.READ, "report.read")
    @blp.response(200, IntakeSchema)
    def get(self, patient_id: int, report_id: int) -> dict[str, Any]:
        """Get one report with its flags and the prompt it gave."""
        report: Report | None = reports.get_report(db.session, patient_id, report_id)
        if report is None:
            raise NotFoundError("Report not found.")
        return intake_body(stored_answer(db.session, report))


@blp.route(f"/{PATIENT_ID}/daily-summary")
class DailySummary(MethodView):
    @patient_action(Action.READ, "report.summary")
    @blp.arguments(SummaryQueryArgsSchema, location="query")
    @blp.response(200, DaySummarySchema(many=True))
    def get(self, args: dict[str, Any], patient_id: int) -> list[dict[str, Any]]:
        """Summarise each day since infusion: highest temperature, lowest SpO2 and SBP, and more."""
        patient = g.patient
        first = args.get("from_day", 0)
        last = args.get("to_day", patient.monitoring_days)
        return daily_summary(reports.reports_between_days(db.session, patient_id, first, last))
