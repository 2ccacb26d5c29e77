"""Notification channels: the port the outbox dispatcher sends through, and its message shape.

---
A channel sends one message to one target and either returns (delivered, as far as the far end
told us) or raises `DeliveryError`, which says whether a retry can help. Channels never retry on
their own beyond one reconnect on a stale keep-alive connection, never log message text (it is
health data) and never put it in an error message (the dispatcher stores errors in
``outbox.last_error``). Delivery is at least once: receivers de-duplicate on ``delivery_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Channel", "DeliveryError", "Message", "MESSAGE_KINDS", "require_target_key", "shorten"]

#: The kinds the dispatcher sends today; channels do not depend on the value.
MESSAGE_KINDS = frozenset({"flag", "escalation", "reminder", "missed_checkin"})


@dataclass(frozen=True)
class Message:
    """One notification, as every channel receives it."""

    delivery_id: str
    kind: str
    subject: str
    text: str
    payload: Mapping[str, Any]
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.delivery_id or not self.delivery_id.strip():
            raise ValueError("Message.delivery_id must not be empty: receivers de-duplicate on it")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("Message.created_at must be timezone-aware")


class DeliveryError(Exception):
    """A message could not be delivered; ``permanent`` says that retrying will not help.

    ---
    ``retry_after`` (seconds) is set when the receiver said when to come back (HTTP
    ``Retry-After`` on 429/503); the dispatcher may use it as the earliest next attempt. The
    message never contains the notification's text or a full webhook URL (paths and query strings
    can hold tokens).
    """

    def __init__(
        self, message: str, permanent: bool = False, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"DeliveryError({str(self)!r}, permanent={self.permanent})"


class Channel(Protocol):
    """Send one message to one recipient's target configuration."""

    name: str

    def send(self, target: Mapping[str, str], message: Message) -> None:
        """Deliver ``message`` to ``target`` or raise `DeliveryError`."""
        ...


def require_target_key(channel: str, target: Mapping[str, str], key: str) -> str:
    """Return ``target[key]`` as a non-blank string or raise a permanent `DeliveryError`."""
    value = target.get(key) if isinstance(target, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise DeliveryError(f"{channel} target has no {key!r}", permanent=True)
    return value.strip()


def shorten(text: str, fits: Callable[[str], bool], ellipsis: str = "…") -> str:
    """Return ``text``, or its longest prefix ending in ``ellipsis`` for which ``fits`` holds.

    ---
    Cuts at a word boundary when one is near the end, so that a number ("38.9") is not cut in
    half into a different number ("38."). ``fits`` must be monotonic in the prefix length.
    """
    if fits(text):
        return text
    low, high = 0, len(text)  # fits(text[:low] + ellipsis) holds or low == 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle] + ellipsis):
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if low < len(text) and not text[low].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"))
        # Drop the partial word unless that would throw away most of the message.
        if boundary > 0 and boundary >= len(cut) * 0.6:
            cut = cut[:boundary]
    return cut.rstrip() + ellipsis
