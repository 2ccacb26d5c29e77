"""Login, token refresh, logout, patient account activation, and the caller's own account."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import decode_token, get_jwt
from flask_smorest import Blueprint
from jwt import PyJWTError

from api.access import audit
from api.auth import current_user, issue_tokens
from api.extensions import db, limiter, utcnow
from models.errors import AuthenticationError
from models.patients import activate_patient_account, patient_of_user
from models.users import (
    AuthSession,
    active_owner,
    authenticate,
    normalise_email,
    revoke_session,
    rotate_session,
    start_session,
)
from schemas.auth import ActivateSchema, LoginSchema, MeSchema, RefreshSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login and tokens")
PUBLIC = [{}]


def _account_key() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return "account:" + (normalise_email(email) if isinstance(email, str) else "-")


def _login_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def _address_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"])


def code_limit() -> str:
    return str(current_app.config["CODE_LIMIT_PER_ADDRESS"])


def new_session_tokens(user: Any) -> dict[str, Any]:
    """Open a login session for ``user`` and return its first tokens."""
    auth = start_session(
        db.session,
        user,
        now=utcnow(),
        lifetime=current_app.config["JWT_REFRESH_TOKEN_EXPIRES"],
    )
    return issue_tokens(user, auth)


@blp.route("/login")
class Login(MethodView):
    decorators = [
        limiter.limit(_login_limit, key_func=_account_key, scope="login-account"),
        limiter.limit(_address_limit, scope="login-address"),
    ]

    @blp.doc(security=PUBLIC)
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Wrong e-mail or password")
    @blp.alt_response(429, description="Too many attempts; wait and retry")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Log in with e-mail and password."""
        user = authenticate(db.session, email=data["email"], password=data["password"])
        return new_session_tokens(user)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Refresh token expired, revoked or already used")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Exchange a refresh token for new tokens; the old refresh token is spent."""
        try:
            claims = decode_token(data["refresh_token"])
        except PyJWTError as error:
            raise AuthenticationError("The refresh token is not valid.") from error
        if claims.get("type") != "refresh" or "sid" not in claims:
            raise AuthenticationError("The refresh token is not valid.")
        auth = rotate_session(
            db.session,
            session_id=str(claims["sid"]),
            jti=str(claims["jti"]),
            now=utcnow(),
            lifetime=current_app.config["JWT_REFRESH_TOKEN_EXPIRES"],
        )
        return issue_tokens(active_owner(db.session, auth), auth)


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self) -> None:
        """End this login session: its access and refresh tokens stop working."""
        current_user()
        auth = db.session.get(AuthSession, str(get_jwt()["sid"]))
        if auth is not None:
            revoke_session(db.session, auth, now=utcnow(), reason="logout")


@blp.route("/activate")
class Activate(MethodView):
    decorators = [limiter.limit(code_limit, scope="redeem-code")]

    @blp.doc(security=PUBLIC)
    @blp.arguments(ActivateSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(422, description="Code not valid, expired or used")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a patient's login with the activation code from their care team."""
        user, patient = activate_patient_account(
            db.session,
            code=data["code"],
            email=data["email"],
            password=data["password"],
            now=utcnow(),
        )
        audit("patient.activate", patient.patient_id, user)
        return new_session_tokens(user)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Return the caller's own account (and, for a patient, their patient id)."""
        user = current_user()
        patient = patient_of_user(db.session, user.user_id)
        return {"user": user, "patient_id": patient.patient_id if patient else None}
