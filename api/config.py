"""Configuration: defaults, then environment variables, then the test_config mapping."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "API_TITLE": "cartwatch",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
    # A report is a few hundred bytes; 64 KiB leaves room and stops abuse (413 beyond).
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=15),
    "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=30),
    "JWT_TOKEN_LOCATION": ["headers"],
    "ACTIVATION_CODE_TTL": timedelta(days=7),
    "INVITATION_CODE_TTL": timedelta(days=7),
    # Login: per account and per address; "memory://" suits one process, use a shared
    # store (redis://...) behind several gunicorn workers.
    "LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "50 per 15 minutes",
    "CODE_LIMIT_PER_ADDRESS": "20 per 15 minutes",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # argon2id cost: OWASP Password Storage Cheat Sheet minimum (19 MiB, 2 passes, 1 lane).
    "PASSWORD_HASH_TIME_COST": 2,
    "PASSWORD_HASH_MEMORY_COST": 19456,
    "PASSWORD_HASH_PARALLELISM": 1,
    "TRUSTED_PROXIES": 0,
    # Notifications: sent right after the commit, and by the scheduler's sweep.
    "DISPATCH_ON_COMMIT": True,
    "OUTBOX_POLL_SECONDS": 5,
    "WEBHOOK_TIMEOUT": 5,
    "SMTP_PORT": 25,
    "SMTP_SENDER": "cartwatch@localhost",
    "SMS_PROVIDER": "logging",
    "PUSH_PROVIDER": "logging",
    "LOG_LEVEL": "INFO",
}

# Environment variable -> (config key, parser).
ENVIRONMENT: dict[str, tuple[str, Any]] = {
    "DATABASE_URL": ("DATABASE_URL", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "ACCESS_TOKEN_MINUTES": ("JWT_ACCESS_TOKEN_EXPIRES", lambda v: timedelta(minutes=int(v))),
    "REFRESH_TOKEN_DAYS": ("JWT_REFRESH_TOKEN_EXPIRES", lambda v: timedelta(days=int(v))),
    "TRUSTED_PROXIES": ("TRUSTED_PROXIES", int),
    "LOG_LEVEL": ("LOG_LEVEL", str),
    "SMTP_HOST": ("SMTP_HOST", str),
    "SMTP_PORT": ("SMTP_PORT", int),
    "SMTP_SENDER": ("SMTP_SENDER", str),
    "SMTP_STARTTLS": ("SMTP_STARTTLS", lambda v: v.lower() in ("1", "true", "yes")),
    "SMTP_USERNAME": ("SMTP_USERNAME", str),
    "SMTP_PASSWORD": ("SMTP_PASSWORD", str),
    "SMS_PROVIDER": ("SMS_PROVIDER", str),
    "PUSH_PROVIDER": ("PUSH_PROVIDER", str),
    "WEBHOOK_TIMEOUT": ("WEBHOOK_TIMEOUT", float),
    "DISPATCH_ON_COMMIT": ("DISPATCH_ON_COMMIT", lambda v: v.lower() in ("1", "true", "yes")),
}


def sqlite_url(instance_path: str) -> str:
    """Return the embedded default database: a SQLite file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "cartwatch.sqlite3")


def instance_secret(instance_path: str) -> str:
    """Read the instance's secret key, creating it (mode 600) on first use."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load_config(
    config: dict[str, Any], instance_path: str, test_config: dict[str, Any] | None
) -> None:
    """Fill ``config`` from the defaults, the environment and ``test_config``."""
    config.update(DEFAULTS)
    for env_name, (key, parse) in ENVIRONMENT.items():
        if os.environ.get(env_name):
            config[key] = parse(os.environ[env_name])
    if test_config:
        config.update(test_config)
    config.setdefault("DATABASE_URL", sqlite_url(instance_path))
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = instance_secret(instance_path)
    config.setdefault("JWT_SECRET_KEY", config["SECRET_KEY"])
