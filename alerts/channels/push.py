"""Push channel: a title and body for a care-team device, through a provider adapter.

---
The provider (FCM, APNs, ...) is a small adapter behind `PushProvider`, chosen by the
``PUSH_PROVIDER`` setting (see `alerts.channels.registry` and docs/channels.md). Title and body are
cut to sizes every provider displays and that keep the provider payload well under the 4 KB that
FCM and APNs accept. An adapter should raise `DeliveryError` itself (an unregistered token is
permanent); any other exception it lets out is treated as transient.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from alerts.channels import DeliveryError, Message, require_target_key, shorten

__all__ = ["LoggingPushProvider", "PushChannel", "PushProvider", "fit_push"]

logger = logging.getLogger("cartwatch.channels.push")

MAX_TITLE_BYTES = 200
MAX_BODY_BYTES = 2000
_MAX_TOKEN = 4096


class PushProvider(Protocol):
    """Send one push notification through a provider."""

    def send_push(self, device_token: str, title: str, body: str, delivery_id: str) -> None:
        """Send a notification to ``device_token`` or raise (preferably `DeliveryError`)."""
        ...


class LoggingPushProvider:
    """Log that a push notification would be sent, without sending it (local use only).

    ---
    Logs the delivery id and the token's last four characters, never the title or body (health
    data). Logged at WARNING because in production this provider means no push notifications.
    """

    def send_push(self, device_token: str, title: str, body: str, delivery_id: str) -> None:
        """Log the delivery id and the token's last four characters; send nothing."""
        logger.warning(
            "Push not sent (logging provider): delivery_id=%s device=…%s",
            delivery_id,
            device_token[-4:],
        )


def _fit_bytes(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return shorten(text, lambda candidate: len(candidate.encode("utf-8")) <= limit)


def fit_push(subject: str, text: str) -> tuple[str, str]:
    """Return the (title, body) for a push notification of a message."""
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    body = "\n".join(line for line in lines if line)
    body = shorten(body, lambda candidate: len(candidate.encode("utf-8")) <= MAX_BODY_BYTES)
    return _fit_bytes(subject, MAX_TITLE_BYTES), body


class PushChannel:
    """Send a message as a push notification to ``target["device_token"]``."""

    name = "push"

    def __init__(self, provider: PushProvider) -> None:
        self.provider = provider

    def send(self, target: Mapping[str, str], message: Message) -> None:
        """Send the subject as title and the text as body to one device."""
        token = require_target_key(self.name, target, "device_token")
        if len(token) > _MAX_TOKEN or any(ch.isspace() or not ch.isprintable() for ch in token):
            raise DeliveryError("push target device_token is malformed", permanent=True)
        title, body = fit_push(message.subject, message.text)
        if not title and not body:
            raise DeliveryError("push message has neither subject nor text", permanent=True)
        try:
            self.provider.send_push(token, title, body, message.delivery_id)
        except DeliveryError:
            raise
        except Exception as exc:
            # Only the type: a provider's message may quote the notification.
            raise DeliveryError(f"push provider failed: {type(exc).__name__}") from exc
