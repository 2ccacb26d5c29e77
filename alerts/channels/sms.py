"""SMS channel: fits the text into a few SMS segments and hands it to a provider adapter.

---
The provider (Twilio, Vonage, an SMPP gateway, ...) is a small adapter behind `SmsProvider`,
chosen by the ``SMS_PROVIDER`` setting (see `alerts.channels.registry` and docs/channels.md).
An adapter should raise `DeliveryError` itself, classified (for example Twilio's "invalid 'To'
number" is permanent, a 5xx from the API transient); any other exception it lets out is treated
as transient, so that a provider outage never drops an alert.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Protocol

from alerts.channels import DeliveryError, Message, require_target_key, shorten

__all__ = [
    "LoggingSmsProvider",
    "SmsChannel",
    "SmsProvider",
    "fit_sms",
    "sms_units",
    "normalise_number",
]

logger = logging.getLogger("cartwatch.channels.sms")

# GSM 03.38 default alphabet, and its extension table (each extension character costs two).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
# Typographic characters that would force the whole message into UCS-2 (70 characters a
# segment instead of 160) although a plain equivalent reads the same. Used only when it makes
# the whole text GSM-7; letters are never changed.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "‑": "-",
        "…": "...",
        "\u00a0": " ",
        "\u202f": " ",
        "°": "",
    }
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SEPARATORS = str.maketrans("", "", " -().\u00a0")


class SmsProvider(Protocol):
    """Send one SMS through a provider."""

    def send_sms(self, number: str, text: str, delivery_id: str) -> None:
        """Send ``text`` to the E.164 ``number`` or raise (preferably `DeliveryError`)."""
        ...


class LoggingSmsProvider:
    """Log that an SMS would be sent, without sending it (local use only).

    ---
    Logs the delivery id and the last two digits of the number, never the text: the text is
    health data and logs are not a place for it. Logged at WARNING because in production this
    provider means that care teams get no SMS.
    """

    def send_sms(self, number: str, text: str, delivery_id: str) -> None:
        """Log the delivery id and the number's last two digits; send nothing."""
        digits = "".join(ch for ch in number if ch.isdigit())
        logger.warning(
            "SMS not sent (logging provider): delivery_id=%s to=…%s", delivery_id, digits[-2:]
        )


def normalise_number(value: str) -> str | None:
    """Return ``value`` as E.164 (``+`` and digits) after dropping spaces and dashes, or None."""
    number = value.translate(_SEPARATORS)
    return number if _E164.fullmatch(number) else None


def is_gsm7(text: str) -> bool:
    """Return whether ``text`` can be sent in the GSM 7-bit alphabet."""
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text)


def sms_units(text: str) -> tuple[int, bool]:
    """Return the length in encoding units and whether the text is GSM-7 (else UCS-2)."""
    if is_gsm7(text):
        return sum(2 if ch in _GSM_EXTENSION else 1 for ch in text), True
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text), False


def _fits(text: str, max_segments: int) -> bool:
    units, gsm = sms_units(text)
    single, multi = (160, 153) if gsm else (70, 67)
    return units <= single or units <= multi * max_segments


def fit_sms(text: str, max_segments: int = 3) -> str:
    """Return ``text`` fitted into at most ``max_segments`` concatenated SMS segments.

    ---
    Whitespace runs are collapsed (line breaks kept), typographic punctuation is replaced when
    that keeps the message in GSM-7, and a text still too long is cut at a word boundary with an
    ellipsis. The dispatcher should put what the team must do first: the end may be cut.
    """
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    plain = text.translate(_PLAIN)
    if not is_gsm7(text) and is_gsm7(plain):
        text = plain
    ellipsis = "..." if is_gsm7(text) else "…"
    return shorten(text, lambda candidate: _fits(candidate, max_segments), ellipsis)


class SmsChannel:
    """Send a message's text as an SMS to ``target["number"]`` (E.164) through a provider."""

    name = "sms"

    def __init__(self, provider: SmsProvider, *, max_segments: int = 3) -> None:
        if max_segments < 1:
            raise ValueError("max_segments must be at least 1")
        self.provider = provider
        self.max_segments = max_segments

    def send(self, target: Mapping[str, str], message: Message) -> None:
        """Send the message text (or its subject when it has none) as one SMS."""
        number = normalise_number(require_target_key(self.name, target, "number"))
        if number is None:
            raise DeliveryError("sms target number is not in E.164 form (+<digits>)", True)
        text = fit_sms(message.text if message.text.strip() else message.subject, self.max_segments)
        if not text:
            raise DeliveryError("sms message has neither text nor subject", permanent=True)
        try:
            self.provider.send_sms(number, text, message.delivery_id)
        except DeliveryError:
            raise
        except Exception as exc:
            # Only the type: a provider's message may quote the text or the full number.
            raise DeliveryError(f"sms provider failed: {type(exc).__name__}") from exc
