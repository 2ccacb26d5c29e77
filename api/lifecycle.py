"""Per-request plumbing: request ids, the one commit per request, and an access log without data."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy.exc import IntegrityError

from api.errors import error_response
from api.extensions import db

log = logging.getLogger("cartwatch.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _start() -> None:
    g.started = time.perf_counter()
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    # The request owns the commit: use cases only flush. Failed requests leave nothing behind.
    if response.status_code < 400:
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            response = error_response(409, "The request conflicts with stored data; retry.")
    else:
        db.session.rollback()
    response.headers["X-Request-ID"] = g.get("request_id", "")
    # The route template, never the path or body: no identifiers or health data in logs.
    rule = request.url_rule.rule if request.url_rule else "-"
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        "%s %s %s %.1fms rid=%s",
        request.method,
        rule,
        response.status_code,
        elapsed_ms,
        g.get("request_id"),
    )
    return response


def init_app(app: Flask) -> None:
    """Register the request hooks."""
    app.before_request(_start)
    app.after_request(_finish)

    @app.teardown_request
    def _rollback_on_crash(error: Any) -> None:
        if error is not None:
            db.session.rollback()
