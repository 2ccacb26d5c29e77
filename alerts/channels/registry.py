"""Build the notification channels from settings.

---
Settings (a mapping such as Flask's ``app.config``; strings from the environment are accepted):

``WEBHOOK_TIMEOUT``  seconds for one whole webhook request (default 5)
``SMTP_HOST``        SMTP relay; the email channel exists only when this is set
``SMTP_PORT``        default 25 (use 587 with ``SMTP_STARTTLS``)
``SMTP_SENDER``      From address, required with ``SMTP_HOST``
``SMTP_STARTTLS``    upgrade the session with STARTTLS (default false)
``SMTP_USERNAME`` / ``SMTP_PASSWORD``  log in (both or neither)
``SMTP_TIMEOUT``     seconds per SMTP operation (default 10)
``SMS_PROVIDER``     "logging" (default), "none" (no SMS channel), or "package.module:factory"
``PUSH_PROVIDER``    same for push

A factory is called with the settings mapping when it takes a positional argument (so it can
read its own keys, e.g. ``TWILIO_AUTH_TOKEN``), else with no argument, and must return an object
with ``send_sms`` (or ``send_push``). Any mistake raises `ChannelConfigError` at start-up, not at
the first alert.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from alerts.channels import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.push import LoggingPushProvider, PushChannel, PushProvider
from alerts.channels.sms import LoggingSmsProvider, SmsChannel, SmsProvider
from alerts.channels.webhook import WebhookChannel

__all__ = ["ChannelConfigError", "channels_from_config", "close_channels", "load_provider"]

logger = logging.getLogger("cartwatch.channels")

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ChannelConfigError(ValueError):
    """A channel setting is missing or invalid."""


def channels_from_config(config: Mapping[str, Any]) -> dict[str, Channel]:
    """Return the configured channels by name ("webhook", "email", "sms", "push")."""
    channels: dict[str, Channel] = {
        "webhook": WebhookChannel(timeout=_number(config, "WEBHOOK_TIMEOUT", 5.0)),
    }
    host = _text(config, "SMTP_HOST")
    if host:
        channels["email"] = _email_channel(config, host)
    else:
        logger.info("SMTP_HOST is not set: no email channel")
    sms: SmsProvider | None = load_provider(config, "SMS_PROVIDER", "send_sms", LoggingSmsProvider)
    if sms is not None:
        channels["sms"] = SmsChannel(sms)
    push: PushProvider | None = load_provider(
        config, "PUSH_PROVIDER", "send_push", LoggingPushProvider
    )
    if push is not None:
        channels["push"] = PushChannel(push)
    return channels


def close_channels(channels: Iterable[Channel]) -> None:
    """Close what the channels hold open (pooled webhook connections, provider clients)."""
    for channel in channels:
        for owner in (channel, getattr(channel, "provider", None)):
            close = getattr(owner, "close", None)
            if callable(close):
                close()


def load_provider(
    config: Mapping[str, Any],
    setting: str,
    method: str,
    default: Callable[[], Any],
) -> Any:
    """Return the provider named by ``config[setting]``, or None for "none".

    ---
    Accepts "logging" (or unset), "none", "package.module:factory", or a provider object
    (convenient in tests).
    """
    value = config.get(setting)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "logging")):
        logger.warning(
            "%s is unset or 'logging': notifications on this channel are logged, not sent",
            setting,
        )
        return default()
    if not isinstance(value, str):
        if callable(getattr(value, method, None)):
            return value
        raise ChannelConfigError(f"{setting} must be a string or an object with {method}()")
    path = value.strip()
    if path.lower() == "none":
        logger.info("%s is 'none': no such channel", setting)
        return None
    if not _DOTTED.fullmatch(path):
        raise ChannelConfigError(
            f"{setting}={path!r} is not 'logging', 'none' or 'package.module:factory'"
        )
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ChannelConfigError(
            f"{setting}={path!r}: cannot import module {module_name!r} ({exc})"
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise ChannelConfigError(
                f"{setting}={path!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from exc
    if not callable(target):
        raise ChannelConfigError(f"{setting}={path!r}: {attribute!r} is not callable")
    try:
        provider = target(config) if _takes_argument(target) else target()
    except Exception as exc:
        raise ChannelConfigError(
            f"{setting}={path!r}: the factory raised {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(getattr(provider, method, None)):
        raise ChannelConfigError(
            f"{setting}={path!r}: the factory returned {type(provider).__name__}, "
            f"which has no {method}() method"
        )
    return provider


def _takes_argument(factory: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters
    )


def _email_channel(config: Mapping[str, Any], host: str) -> EmailChannel:
    sender = _text(config, "SMTP_SENDER")
    if not sender:
        raise ChannelConfigError("SMTP_SENDER is required when SMTP_HOST is set")
    username = _text(config, "SMTP_USERNAME")
    password = _text(config, "SMTP_PASSWORD")
    if bool(username) != bool(password):
        raise ChannelConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
    starttls = _flag(config, "SMTP_STARTTLS", False)
    if username and not starttls and host not in ("localhost", "127.0.0.1", "::1"):
        logger.warning("SMTP_USERNAME is set without SMTP_STARTTLS: the password travels in clear")
    port = _number(config, "SMTP_PORT", 25)
    if port != int(port) or not 0 < port < 65536:
        raise ChannelConfigError(f"SMTP_PORT must be a port number, not {port!r}")
    try:
        return EmailChannel(
            host,
            int(port),
            sender,
            starttls=starttls,
            username=username,
            password=password,
            timeout=_number(config, "SMTP_TIMEOUT", 10.0),
        )
    except ValueError as exc:
        raise ChannelConfigError(str(exc)) from exc


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ChannelConfigError(f"{key} must be a string")
    return value.strip() or None


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ChannelConfigError(f"{key} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ChannelConfigError(f"{key} must be a number, not {value!r}") from exc
    if not number > 0 or number == float("inf"):
        raise ChannelConfigError(f"{key} must be positive, not {value!r}")
    return number


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ChannelConfigError(f"{key} must be true or false, not {value!r}")
