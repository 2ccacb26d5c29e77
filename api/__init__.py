"""cartwatch: the REST API behind the post-CAR-T home monitoring app.

``flask --app api ...`` finds :func:`create_app` here.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import access, auth, dispatch, errors, lifecycle
from api.config import load_config
from api.errors import Api
from api.extensions import db, limiter, system_clock
from models.db import configure_engine, engine_options
from models.users import configure_password_hashing


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the application. Nothing here touches the database or starts jobs."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app.config, app.instance_path, test_config)
    logging.basicConfig(
        level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # APScheduler logs every run at INFO; our jobs log their own counts when they did something.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])  # type: ignore[method-assign]

    url = app.config["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINES"] = {"default": {"url": url, **engine_options(url)}}
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    app.extensions["cartwatch.clock"] = app.config.get("CLOCK", system_clock)
    configure_password_hashing(
        app.config["PASSWORD_HASH_TIME_COST"],
        app.config["PASSWORD_HASH_MEMORY_COST"],
        app.config["PASSWORD_HASH_PARALLELISM"],
    )

    lifecycle.init_app(app)
    dispatch.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    limiter.init_app(app)
    api = Api(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    access.init_app(app)
    register_blueprints(api)
    access.check_routes(app)

    from api.cli import register_commands

    register_commands(app)
    return app


def register_blueprints(api: Api) -> None:
    """Register every resource's blueprint."""
    from api import (
        accounts,
        caregivers,
        flags,
        health,
        notifications,
        patients,
        reports,
        rules,
        teams,
        users,
    )

    for module in (
        health,
        accounts,
        users,
        teams,
        notifications,
        rules,
        patients,
        caregivers,
        reports,
        flags,
    ):
        api.register_blueprint(module.blp)
