"""Liveness and readiness probes for the load balancer and the orchestrator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import error_response
from api.extensions import db

blp = Blueprint("health", __name__, description="Probes")


class HealthSchema(Schema):
    status = fields.String(required=True)


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(security=[{}])
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """Tell that the process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(security=[{}])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database is not reachable")
    def get(self) -> Any:
        """Tell that the database answers."""
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return error_response(503, "The database is not reachable.")
        return {"status": "ok"}
