"""Email channel: one plain-text mail per message through an SMTP relay (smtplib).

---
One SMTP session per message: mail is not the latency-critical channel, and a fresh session has
no stale-connection failure mode. The Message-ID is derived from the delivery id, so a message sent
twice (at-least-once delivery) is recognisable as the same alert by the recipient's mail system
and by a human reading the headers.

Failures are classified by the SMTP reply code: 5xx (recipient refused, sender refused,
authentication rejected, message rejected) will not change by retrying and is permanent; 4xx
(greylisting, mailbox busy, relay overloaded) and any network failure are transient.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime

from alerts.channels import DeliveryError, Message, require_target_key

__all__ = ["EmailChannel", "message_id_for"]

# RFC 5322 dot-atom-text: what may stand on the left of the "@" of a Message-ID unquoted.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_SUBJECT = 200
_HEADERS = HeaderRegistry()


def message_id_for(delivery_id: str, domain: str) -> str:
    """Return the Message-ID header for a delivery: ``<cartwatch.{delivery_id}@{domain}>``.

    ---
    A delivery id that is not a valid dot-atom (it is a UUID in practice) is replaced by its
    SHA-256 so that the result is still deterministic and valid.
    """
    left = delivery_id
    if not _DOT_ATOM.fullmatch(left) or len(left) > 100:
        left = "h" + hashlib.sha256(delivery_id.encode("utf-8")).hexdigest()[:40]
    if not _DOT_ATOM.fullmatch(domain):
        domain = "cartwatch.invalid"
    return f"<cartwatch.{left}@{domain}>"


class EmailChannel:
    """Send a message as a plain-text mail to ``target["address"]``."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host:
            raise ValueError("SMTP host is required")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        sender_address = _parse_address(sender)
        if sender_address is None:
            raise ValueError(f"SMTP sender {sender!r} is not an email address")
        self.host = host
        self.port = int(port)
        self.sender = sender
        self._sender_address = sender_address
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = float(timeout)
        self._ssl_context = ssl_context or ssl.create_default_context()

    def build(self, address: str, message: Message) -> EmailMessage:
        """Return the mail that `send` would send to ``address``."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = address
        # Header values must be one line; a subject is short by design (the text has the rest).
        subject = " ".join(message.subject.split())
        mail["Subject"] = subject[:_MAX_SUBJECT] or "cartwatch alert"
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = message_id_for(message.delivery_id, self._sender_address.domain)
        mail["X-Cartwatch-Delivery"] = message.delivery_id
        mail["X-Cartwatch-Kind"] = message.kind
        # RFC 3834: keeps vacation auto-replies from answering an alert.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text, subtype="plain", charset="utf-8")
        return mail

    def send(self, target: Mapping[str, str], message: Message) -> None:
        """Send ``message`` by SMTP to ``target["address"]``."""
        address = require_target_key(self.name, target, "address")
        recipient = _parse_address(address)
        if recipient is None:
            raise DeliveryError("email target address is not a valid address", permanent=True)
        if not message.delivery_id.isprintable():
            raise DeliveryError("delivery_id cannot be sent in a mail header", permanent=True)
        try:
            mail = self.build(address, message)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"email could not be built: {type(exc).__name__}", True) from exc
        where = f"smtp {self.host}:{self.port}"
        deadline = time.monotonic() + self.timeout
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                # Verifies the certificate against self.host; smtplib says EHLO again after it.
                smtp.starttls(context=self._ssl_context)
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            _check_deadline(deadline)
            smtp.send_message(
                mail, from_addr=self._sender_address.addr_spec, to_addrs=[recipient.addr_spec]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            raise _reply_error(f"{where} refused the recipient", code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            # SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError, SMTPHeloError, ...
            raise _reply_error(f"{where} {_stage(exc)}", exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # STARTTLS or AUTH configured but not offered: a configuration mismatch. Never fall
            # back to plain text: the mail holds health data.
            raise DeliveryError(f"{where}: {exc}", permanent=True) from exc
        except TimeoutError as exc:
            raise DeliveryError(f"{where}: no answer within {self.timeout:g} s") from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"{where}: TLS verification failed: {exc.verify_message}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{where}: {_describe(exc)}") from exc
        finally:
            if smtp is not None:
                _quit_quietly(smtp)


def _parse_address(value: str) -> Address | None:
    """Return a single plain address (``a@b``, or ``Name <a@b>``) or None."""
    if not value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    try:
        header = _HEADERS("To", value)
    except (ValueError, IndexError, TypeError):
        return None
    if not isinstance(header, AddressHeader) or header.defects or len(header.addresses) != 1:
        return None
    address = header.addresses[0]
    if not address.username or not address.domain or "." not in address.domain:
        return None
    return address


def _check_deadline(deadline: float) -> None:
    # smtplib applies the timeout per socket operation; this bounds a crawling login.
    if time.monotonic() > deadline:
        raise TimeoutError("deadline passed")


def _reply_error(detail: str, code: int, reply: bytes | str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())[:120]
    message = f"{detail}: {code} {text}".rstrip()
    return DeliveryError(message, permanent=500 <= code < 600)


def _stage(exc: smtplib.SMTPResponseException) -> str:
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "refused the sender"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "rejected the login"
    if isinstance(exc, smtplib.SMTPDataError):
        return "refused the message"
    if isinstance(exc, smtplib.SMTPConnectError):
        return "refused the connection"
    return "answered"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "connection closed unexpectedly"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"[:200]


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    # The mail is either accepted or the error is already raised: a failing QUIT changes neither.
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        smtp.close()
