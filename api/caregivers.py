"""Caregivers: invitations, sign-up, links and their revocation."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import Action, audit, patient_action
from api.accounts import PUBLIC, code_limit, new_session_tokens
from api.auth import current_user, roles_required
from api.extensions import db, limiter, utcnow
from models import patients
from models.patients import CaregiverLink, CodeKind
from models.users import Role, User, create_user
from schemas.caregivers import (
    AcceptInvitationSchema,
    CaregiverLinkSchema,
    CaregiverSignupResultSchema,
    CaregiverSignupSchema,
)
from schemas.patients import CodeSchema

blp = Blueprint("caregivers", __name__, url_prefix="/api/v1", description="Caregivers")
PATIENT_ID = "<int(max=2147483647):patient_id>"


def link_view(link: CaregiverLink, caregiver: User) -> dict[str, Any]:
    """Shape a link for the response."""
    return {
        "link_id": link.link_id,
        "patient_id": link.patient_id,
        "caregiver": caregiver,
        "relationship": link.relationship,
        "created_at": link.created_at,
        "revoked_at": link.revoked_at,
        "is_active": link.revoked_at is None,
    }


@blp.route(f"/patients/{PATIENT_ID}/caregiver-invitations")
class Invitations(MethodView):
    @patient_action(Action.INVITE_CAREGIVER, "caregiver.invite")
    @blp.response(201, CodeSchema)
    def post(self, patient_id: int) -> dict[str, Any]:
        """Issue a one-time code that links a caregiver to this patient."""
        now = utcnow()
        lifetime = current_app.config["INVITATION_CODE_TTL"]
        code = patients.issue_code(
            db.session,
            g.patient,
            kind=CodeKind.CAREGIVER,
            by=current_user(),
            now=now,
            lifetime=lifetime,
        )
        return {"code": code, "expires_at": now + lifetime}


@blp.route(f"/patients/{PATIENT_ID}/caregivers")
class Caregivers(MethodView):
    @patient_action(Action.MANAGE_CAREGIVERS, "caregiver.list")
    @blp.response(200, CaregiverLinkSchema(many=True))
    def get(self, patient_id: int) -> list[dict[str, Any]]:
        """List this patient's caregivers, live and revoked."""
        return [
            link_view(link, user) for link, user in patients.caregiver_links(db.session, patient_id)
        ]


@blp.route(f"/patients/{PATIENT_ID}/caregivers/<int(max=2147483647):link_id>")
class CaregiverById(MethodView):
    @patient_action(Action.MANAGE_CAREGIVERS, "caregiver.revoke")
    @blp.response(204)
    def delete(self, patient_id: int, link_id: int) -> None:
        """Revoke a caregiver's link; their access ends at once."""
        patients.revoke_link(
            db.session, patient_id=patient_id, link_id=link_id, by=current_user(), now=utcnow()
        )


@blp.route("/caregivers/links")
class CaregiverLinks(MethodView):
    decorators = [limiter.limit(code_limit, scope="redeem-code")]

    @roles_required(Role.CAREGIVER)
    @blp.arguments(AcceptInvitationSchema)
    @blp.response(201, CaregiverLinkSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Accept an invitation with an existing caregiver login."""
        user = current_user()
        link = patients.accept_invitation(
            db.session,
            code=data["code"],
            caregiver=user,
            relationship=data.get("relationship"),
            now=utcnow(),
        )
        audit("caregiver.link", link.patient_id, user)
        return link_view(link, user)


@blp.route("/caregivers/signup")
class CaregiverSignup(MethodView):
    decorators = [limiter.limit(code_limit, scope="redeem-code")]

    @blp.doc(security=PUBLIC)
    @blp.arguments(CaregiverSignupSchema)
    @blp.response(201, CaregiverSignupResultSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Accept an invitation with a new caregiver login."""
        now = utcnow()
        # A bad code fails the request, and its rollback takes the new account with it.
        user = create_user(
            db.session,
            email=data["email"],
            password=data["password"],
            role=Role.CAREGIVER,
            display_name=data["display_name"],
            now=now,
        )
        link = patients.accept_invitation(
            db.session,
            code=data["code"],
            caregiver=user,
            relationship=data.get("relationship"),
            now=now,
        )
        audit("caregiver.link", link.patient_id, user)
        return {"tokens": new_session_tokens(user), "link": link_view(link, user)}
