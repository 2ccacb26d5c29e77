"""Every error leaves the API in one JSON shape: ``{code, status, message, errors?}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, g, jsonify
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from models.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

log = logging.getLogger("cartwatch.errors")

STATUS_OF: dict[type[DomainError], int] = {
    NotFoundError: 404,
    PermissionDeniedError: 403,
    AuthenticationError: 401,
    ConflictError: 409,
    InvalidInputError: 422,
}


def error_response(
    status: int, message: str, errors: dict[str, Any] | None = None, headers: Any = None
) -> Any:
    """Build the API's error response."""
    payload: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
    }
    if errors:
        payload["errors"] = errors
    response = jsonify(payload)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


class Api(flask_smorest.Api):
    """flask-smorest's Api, keeping the headers werkzeug puts on its exceptions (Allow on 405)."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        merged = dict(headers or {})
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                merged[name] = value
        return payload, code, merged


def _status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def init_app(app: Flask) -> None:
    """Map domain and database errors to responses."""
    from api.extensions import db

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Any:
        # Most errors undo the request's work; a few (a revoked session after refresh token
        # reuse, an audited refusal) must be stored although the request fails.
        if error.keep_changes:
            db.session.commit()
        else:
            db.session.rollback()
        errors = {"json": error.errors} if error.errors else None
        return error_response(_status_of(error), error.message, errors)

    @app.errorhandler(IntegrityError)
    def _integrity_error(error: IntegrityError) -> Any:
        # A concurrent request won a race on a unique key; the named checks in the use cases
        # catch the ordinary case with a clearer message.
        db.session.rollback()
        log.warning("integrity error in request %s", g.get("request_id"))
        return error_response(409, "The request conflicts with stored data; reload and retry.")
