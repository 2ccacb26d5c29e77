"""Webhook channel: a signed JSON POST over kept-alive HTTP(S) connections.

---
Why not a new connection per alert: a TLS handshake costs several round trips, and a fever alert
should reach the team's system within milliseconds of the commit. Connections are pooled per
(scheme, host, port); a thread takes a connection out of the pool for the length of one request,
so the channel is safe to share between dispatcher threads.

Idle connections go stale (the receiver closes them after its own keep-alive timeout, or restarts).
Before reuse, a connection whose socket is readable (EOF, or unexpected bytes) is dropped. If a
reused connection still fails before any byte of a response arrives, the request is sent once more
on a fresh connection: the receiver may then see it twice, which is the at-least-once contract
(it de-duplicates on ``X-Cartwatch-Delivery``).

The whole send (connect, TLS, request, response) is bounded by ``timeout``: the socket timeout is
set to what is left of it before each step, so a receiver that trickles its answer cannot hold a
dispatcher thread longer than that. Redirects are not followed (a signed alert must not be
forwarded to a host nobody configured); a 3xx is a permanent error that names the fix.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

from alerts.channels import DeliveryError, Message, require_target_key

__all__ = ["WebhookChannel", "sign", "verify", "SIGNATURE_VERSION"]

SIGNATURE_VERSION = "v1"
USER_AGENT = "cartwatch-webhook/1"

# Statuses worth retrying although they are 4xx: request timeout and rate limiting.
_TRANSIENT_4XX = frozenset({408, 429})
# The response body is read only to keep the connection reusable; larger bodies close it.
_MAX_BODY = 64 * 1024
_MAX_IDLE_PER_HOST = 8
# Connections idle longer than this are not reused: middleboxes silently drop idle TCP flows,
# and a send on such a flow would hang until the timeout instead of failing fast.
_MAX_IDLE_SECONDS = 30.0

_PoolKey = tuple[str, str, int]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-Cartwatch-Signature`` value for a body sent at ``timestamp``.

    ---
    ``v1=`` + hex HMAC-SHA256, keyed with the UTF-8 secret, over ``f"{timestamp}.".encode() +
    body`` (the exact bytes on the wire).
    """
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now: int, tolerance: int = 300
) -> bool:
    """Return whether ``signature`` signs ``body`` at ``timestamp`` and the timestamp is recent.

    ---
    ``timestamp`` and ``signature`` are the raw header values. A timestamp more than
    ``tolerance`` seconds from ``now`` (either way) is refused, so a captured request cannot be
    replayed later. ``signature`` may hold several comma-separated ``v1=`` values (a sender
    rotating secrets); any one matching is enough. Comparison is constant-time.
    """
    if not secret or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent_at = int(timestamp)
    if abs(now - sent_at) > tolerance:
        return False
    expected = sign(secret, sent_at, body).encode("ascii")
    matched = False
    for candidate in signature.split(","):
        candidate = candidate.strip()
        if not candidate.isascii():
            continue
        # No early exit: the time taken must not depend on which candidate matched.
        matched |= hmac.compare_digest(expected, candidate.encode("ascii"))
    return matched


class WebhookChannel:
    """POST each message's payload as signed JSON to the target's ``url``."""

    name = "webhook"

    def __init__(
        self,
        timeout: float = 5.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = float(timeout)
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[_PoolKey, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._closed = False

    def __enter__(self) -> WebhookChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle pooled connections; sends after this still work (without pooling)."""
        with self._lock:
            idle, self._idle = self._idle, {}
            self._closed = True
        for connections in idle.values():
            for connection, _ in connections:
                connection.close()

    def send(self, target: Mapping[str, str], message: Message) -> None:
        """POST the message's payload to ``target["url"]``, signed with ``target["secret"]``."""
        url = require_target_key(self.name, target, "url")
        secret = require_target_key(self.name, target, "secret")
        key, path, where = _parse_url(url)
        if not message.delivery_id.isprintable() or not message.delivery_id.isascii():
            raise DeliveryError("delivery_id cannot be sent in an HTTP header", permanent=True)
        body = _encode_payload(message)
        deadline = time.monotonic() + self.timeout
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Cartwatch-Delivery": message.delivery_id,
            "X-Cartwatch-Timestamp": str(timestamp),
            "X-Cartwatch-Signature": sign(secret, timestamp, body),
        }
        try:
            status, reason, retry_after = self._post(key, path, body, headers, deadline)
        except TimeoutError as exc:
            raise DeliveryError(f"webhook {where}: no answer within {self.timeout:g} s") from exc
        except ssl.SSLCertVerificationError as exc:
            # A wrong certificate does not fix itself between retries, but it may be a
            # certificate renewal in progress; keep it transient so the alert is not dropped.
            raise DeliveryError(
                f"webhook {where}: TLS verification failed: {exc.verify_message}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"webhook {where}: {_describe(exc)}") from exc
        if 200 <= status < 300:
            return
        raise _status_error(where, status, reason, retry_after)

    # -- connection handling -------------------------------------------------------------------

    def _post(
        self,
        key: _PoolKey,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        deadline: float,
    ) -> tuple[int, str, float | None]:
        connection, reused = self._acquire(key)
        try:
            try:
                result = self._exchange(connection, path, body, headers, deadline)
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
                # http.client.RemoteDisconnected is a ConnectionResetError.
                connection.close()
                if not reused:
                    raise
                # The receiver closed an idle connection as we reused it: one fresh attempt.
                result = self._exchange(connection, path, body, headers, deadline)
        except BaseException:
            connection.close()
            raise
        status, reason, retry_after, reusable = result
        if reusable:
            self._release(key, connection)
        else:
            connection.close()
        return status, reason, retry_after

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        deadline: float,
    ) -> tuple[int, str, float | None, bool]:
        """Send one request and read the answer; return status, reason, Retry-After, reusable."""
        connection.timeout = _remaining(deadline)  # used by connect() when there is no socket
        if connection.sock is None:
            connection.connect()
            assert connection.sock is not None
            # Small request, small answer: do not let Nagle hold a write back for a delayed ACK.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = connection.sock
        sock.settimeout(_remaining(deadline))
        connection.request("POST", path, body=body, headers=dict(headers))
        # Keep our own reference: after a "Connection: close" answer http.client detaches the
        # socket from the connection and only the response still reads from it.
        sock.settimeout(_remaining(deadline))
        response = connection.getresponse()
        reusable = not response.will_close
        received = 0
        while True:
            sock.settimeout(_remaining(deadline))
            chunk = response.read(16 * 1024)
            if not chunk:
                break
            received += len(chunk)
            if received > _MAX_BODY:
                reusable = False
                break
        response.close()
        retry_after = _parse_retry_after(response.getheader("Retry-After"))
        return response.status, response.reason, retry_after, reusable

    def _acquire(self, key: _PoolKey) -> tuple[http.client.HTTPConnection, bool]:
        now = time.monotonic()
        stale: list[http.client.HTTPConnection] = []
        found: http.client.HTTPConnection | None = None
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection, since = idle.pop()  # most recently used first
                if now - since <= _MAX_IDLE_SECONDS and _is_usable(connection):
                    found = connection
                    break
                stale.append(connection)
        for connection in stale:
            connection.close()
        if found is not None:
            return found, True
        scheme, host, port = key
        if scheme == "https":
            return (
                http.client.HTTPSConnection(
                    host, port, timeout=self.timeout, context=self._ssl_context
                ),
                False,
            )
        return http.client.HTTPConnection(host, port, timeout=self.timeout), False

    def _release(self, key: _PoolKey, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < _MAX_IDLE_PER_HOST:
                idle.append((connection, time.monotonic()))
                return
        connection.close()


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _is_usable(connection: http.client.HTTPConnection) -> bool:
    """Return whether an idle pooled connection can carry another request."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        # An idle HTTP connection has nothing to read; readable means EOF (closed by the
        # receiver) or garbage. Either way it must not be reused. poll(), unlike select(), has no
        # limit on descriptor numbers (a busy process easily holds more than 1024).
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _parse_url(url: str) -> tuple[_PoolKey, str, str]:
    """Return the pool key, the request target and a loggable ``scheme://host:port``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DeliveryError(f"webhook url is invalid: {exc}", permanent=True) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DeliveryError("webhook url must start with https:// or http://", permanent=True)
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise DeliveryError("webhook url contains spaces or control characters", permanent=True)
    host = parts.hostname
    if not host:
        raise DeliveryError("webhook url has no host", permanent=True)
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would go nowhere (we do not send Basic auth) and end up in logs.
        raise DeliveryError("webhook url must not contain user:password@", permanent=True)
    if port is None:
        port = 443 if scheme == "https" else 80
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # Non-ASCII in a path is sent percent-encoded (UTF-8); existing escapes are kept.
    path = quote(path, safe="!#$%&'()*+,/:;=?@[]~")
    display_host = f"[{host}]" if ":" in host else host
    return (scheme, host, port), path, f"{scheme}://{display_host}:{port}"


def _encode_payload(message: Message) -> bytes:
    if not isinstance(message.payload, Mapping):
        raise DeliveryError("webhook payload must be a JSON object", permanent=True)
    try:
        text = json.dumps(
            dict(message.payload), separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        # A payload that cannot be serialised now never will be; the type names only.
        raise DeliveryError(
            f"webhook payload is not JSON-serialisable: {exc}", permanent=True
        ) from exc
    return text.encode("utf-8")


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 86_400))
    return None  # The HTTP-date form is rare for webhooks; the dispatcher's backoff applies.


def _status_error(where: str, status: int, reason: str, retry_after: float | None) -> DeliveryError:
    detail = f"webhook {where} answered {status} {reason[:80]}".rstrip()
    if 300 <= status < 400:
        return DeliveryError(
            f"{detail}: redirects are not followed, configure the final URL", permanent=True
        )
    if 400 <= status < 500 and status not in _TRANSIENT_4XX:
        return DeliveryError(detail, permanent=True)
    return DeliveryError(detail, retry_after=retry_after)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    if isinstance(exc, socket.gaierror):
        return f"host name did not resolve ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"[:200]
