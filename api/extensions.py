"""The Flask extensions, created once and bound to the app in create_app()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy_lite import SQLAlchemy

db = SQLAlchemy()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def utcnow() -> datetime:
    """Return the app's notion of now (tests install their own clock)."""
    clock: Clock = current_app.extensions["cartwatch.clock"]
    return clock()
