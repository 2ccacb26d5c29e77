"""Access tokens (JWT), the current user, and role requirements for non-patient endpoints."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    verify_jwt_in_request,
)

from api.errors import error_response
from api.extensions import db, jwt, utcnow
from models.errors import AuthenticationError, PermissionDeniedError
from models.users import AuthSession, Role, User, user_with_live_session


def issue_tokens(user: User, auth: AuthSession) -> dict[str, Any]:
    """Return a fresh access token and the session's current refresh token."""
    claims = {"role": user.role, "sid": auth.session_id}
    access = create_access_token(identity=str(user.user_id), additional_claims=claims)
    refresh = create_refresh_token(
        identity=str(user.user_id),
        additional_claims={"sid": auth.session_id, "jti": auth.refresh_jti},
    )
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
        "user_id": user.user_id,
        "role": user.role,
    }


def current_user() -> User:
    """Return the authenticated user, or raise AuthenticationError (401)."""
    if "user" not in g:
        verify_jwt_in_request()
        user = _load_user(get_jwt())
        if user is None:
            raise AuthenticationError("The session has ended; log in again.")
        g.user = user
    user_: User = g.user
    return user_


def _load_user(claims: dict[str, Any]) -> User | None:
    try:
        user_id = int(claims["sub"])
        session_id = str(claims["sid"])
    except (KeyError, TypeError, ValueError):
        return None
    return user_with_live_session(db.session, user_id=user_id, session_id=session_id, now=utcnow())


def roles_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let only users of these roles call the view."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user.role not in roles:
                raise PermissionDeniedError("Your role may not do this.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def init_app(app: Flask) -> None:
    """Configure flask-jwt-extended to answer in the API's error shape."""
    jwt.init_app(app)

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Any:
        return error_response(401, "Log in first: a bearer access token is required.")

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Any:
        return error_response(401, "The access token is not valid.")

    @jwt.expired_token_loader
    def _expired(header: dict[str, Any], payload: dict[str, Any]) -> Any:
        return error_response(401, "The access token has expired; refresh it.")

    @jwt.needs_fresh_token_loader
    def _not_fresh(header: dict[str, Any], payload: dict[str, Any]) -> Any:
        return error_response(401, "Log in again to do this.")

    @jwt.revoked_token_loader
    def _revoked(header: dict[str, Any], payload: dict[str, Any]) -> Any:
        return error_response(401, "The session has ended; log in again.")

    @jwt.user_lookup_error_loader
    def _lookup_failed(header: dict[str, Any], payload: dict[str, Any]) -> Any:
        return error_response(401, "The session has ended; log in again.")
