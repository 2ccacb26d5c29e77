"""Real receivers on loopback for channel and end-to-end tests: an HTTP webhook endpoint and an
SMTP server.

Both are context managers with ``start()``/``stop()``; ``stop()`` makes the port refuse
connections (a receiver that is genuinely down) and ``start()`` again listens on the same port.
Every wait is bounded: ``wait_for(count, timeout)`` raises ``TimeoutError``.
"""

from __future__ import annotations

import email.policy
import json
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.channels.webhook import verify

__all__ = ["ReceivedMail", "ReceivedWebhook", "SmtpReceiver", "WebhookReceiver", "DROP"]

#: A status for `WebhookReceiver.respond_next`: read the request, then close without answering.
DROP = 0


def _wait(
    condition: threading.Condition,
    ready: Callable[[], bool],
    timeout: float,
    what: Callable[[], str],
) -> None:
    with condition:
        if not condition.wait_for(ready, timeout=timeout):
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what()}")


# -- webhook ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedWebhook:
    """One HTTP request as the webhook receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any  # the parsed JSON body, None when it was not JSON
    signature_valid: bool
    delivery_id: str | None
    status: int  # what the receiver answered; DROP (0) when it closed without answering
    client_address: tuple[str, int]
    connection_number: int  # 1 for the first TCP connection the receiver accepted, 2, ...
    monotonic: float  # time.monotonic() at arrival
    wall: float  # time.time() at arrival

    def header(self, name: str) -> str | None:
        """Return a request header, case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Server
    connection_number = 0

    def setup(self) -> None:
        # The answer goes out in two writes (head, body): without this, Nagle and the client's
        # delayed ACK add ~40 ms to every answer on a kept-alive connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = self.server.owner.ssl_context
        if context is not None:
            # Handshake here, in the connection's thread, not in the accept loop. On failure
            # wrap_socket closes the socket itself.
            self.request.settimeout(5)
            self.request = context.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        super().setup()
        self.connection_number = self.server.owner._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection_closed(self.connection)
            if self.server.owner.ssl_context is not None:
                self.connection.close()  # the server closes only the (detached) plain socket

    def do_POST(self) -> None:  # http.server dispatches on the method name
        self._receive()

    def do_PUT(self) -> None:
        self._receive()

    def _receive(self) -> None:
        owner = self.server.owner
        arrived, wall = time.monotonic(), time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = owner._next_status()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        timestamp = self.headers.get("X-Cartwatch-Timestamp") or ""
        signature = self.headers.get("X-Cartwatch-Signature") or ""
        host, port = self.client_address[:2]
        owner._record(
            ReceivedWebhook(
                method=self.command,
                path=self.path,
                headers={key: value for key, value in self.headers.items()},
                body=body,
                payload=payload,
                signature_valid=verify(
                    owner.secret,
                    timestamp,
                    body,
                    signature,
                    now=int(wall),
                    tolerance=owner.tolerance,
                ),
                delivery_id=self.headers.get("X-Cartwatch-Delivery"),
                status=status,
                client_address=(str(host), int(port)),
                connection_number=self.connection_number,
                monotonic=arrived,
                wall=wall,
            )
        )
        if owner.delay > 0 and owner._stopping.wait(owner.delay):
            self.close_connection = True
            return
        if status == DROP:
            self.close_connection = True
            return
        answer = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if owner.retry_after is not None:
            self.send_header("Retry-After", owner.retry_after)
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Quiet tests; the records are in WebhookReceiver.received.


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: nothing outlives stop()
    block_on_close = True
    allow_reuse_address = True  # restart on the same port while old sockets are in TIME_WAIT

    def __init__(self, owner: WebhookReceiver, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return  # a client or stop() closed the connection mid-request
        self.owner.errors.append(repr(error))


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records webhook deliveries and verifies signatures.

    ---
    Set ``respond_with`` (default 200) to answer every request with that status, or queue
    one-off answers with ``respond_next(503, 503, 200)``; ``DROP`` closes the connection without an
    answer. ``delay`` (seconds) holds each answer back (a receiver that never answers in time);
    ``stop()`` cuts such waits short. ``retry_after`` adds a Retry-After header. Answers are
    HTTP/1.1 with keep-alive; ``connection_count`` is how many TCP connections were accepted.
    With ``ssl_context`` (a server context holding a certificate) it serves HTTPS.
    """

    def __init__(
        self,
        secret: str = "test-webhook-secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/hooks/cartwatch",
        tolerance: int = 300,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.secret = secret
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.path = path
        self.tolerance = tolerance
        self.respond_with = 200
        self.retry_after: str | None = None
        self.delay = 0.0
        self.received: list[ReceivedWebhook] = []
        self.errors: list[str] = []
        self.connection_count = 0
        self._queued: deque[int] = deque()
        self._condition = threading.Condition()
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the URL to configure as the webhook target."""
        if not self.port:
            raise RuntimeError("start the receiver first: the port is chosen when it listens")
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}{self.path}"

    @property
    def target(self) -> dict[str, str]:
        """Return the webhook channel target for this receiver (url and secret)."""
        return {"url": self.url, "secret": self.secret}

    @property
    def is_running(self) -> bool:
        return self._server is not None

    @property
    def accepted(self) -> list[ReceivedWebhook]:
        """Return the requests answered with a 2xx status."""
        with self._condition:
            return [r for r in self.received if 200 <= r.status < 300]

    def respond_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, then with ``respond_with`` again."""
        with self._condition:
            self._queued.extend(statuses)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        """Wait until ``count`` requests arrived (any answer); return them all."""
        _wait(
            self._condition,
            lambda: len(self.received) >= count,
            timeout,
            lambda: f"{count} webhook request(s), got {len(self.received)}",
        )
        with self._condition:
            return list(self.received)

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._condition:
            self.received.clear()

    def start(self) -> WebhookReceiver:
        """Listen (on the same port as before, after a stop) and serve in a thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self, (self.host, self.port))
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"webhook-receiver-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection; the port then refuses connections."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()  # no new connections are accepted after this returns
        thread.join(timeout=5)
        with self._condition:
            open_connections = list(self._open)
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes handlers blocked on keep-alive
            except OSError:
                pass
        server.server_close()  # closes the listening socket, joins the handler threads
        self._server = self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- called from handler threads ------------------------------------------------------------

    def _next_status(self) -> int:
        with self._condition:
            return self._queued.popleft() if self._queued else self.respond_with

    def _record(self, request: ReceivedWebhook) -> None:
        with self._condition:
            self.received.append(request)
            self._condition.notify_all()

    def _connection_opened(self, connection: socket.socket) -> int:
        with self._condition:
            self.connection_count += 1
            self._open.add(connection)
            return self.connection_count

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._condition:
            self._open.discard(connection)


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One mail as the SMTP receiver accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    headers: dict[str, str]
    message: EmailMessage = field(repr=False)
    raw: bytes = field(repr=False)
    monotonic: float = 0.0
    wall: float = 0.0


class _SmtpHandler:
    def __init__(self, owner: SmtpReceiver) -> None:
        self.owner = owner

    async def handle_RCPT(  # aiosmtpd hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        code = self.owner.refuse_with
        if code is not None:
            status = "5.1.1" if code >= 500 else "4.2.1"
            return f"{code} {status} <{address}>: recipient refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        body_part = parsed.get_body(preferencelist=("plain",))
        body = body_part.get_content() if body_part is not None else ""
        body = body.replace("\r\n", "\n")  # SMTP line endings back to Python's
        self.owner._record(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(parsed["Subject"] or ""),
                body=body,
                headers={key: str(value) for key, value in parsed.items()},
                message=parsed,
                raw=raw,
                monotonic=time.monotonic(),
                wall=time.time(),
            )
        )
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """An aiosmtpd Controller serving on a socket we bound (port 0: no free-port race)."""

    def __init__(self, handler: _SmtpHandler, sock: socket.socket, **smtp_options: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, ready_timeout=5.0, **smtp_options)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that collects mail.

    ---
    ``refuse_with = 550`` refuses every recipient with that code (450 for a temporary refusal);
    None accepts them. With ``tls_context`` (a server context holding a certificate) it offers
    STARTTLS and requires it; with ``credentials=(user, password)`` it requires that login (over
    TLS), answering 535 to a wrong one.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.credentials = credentials
        self.refuse_with: int | None = None
        self.messages: list[ReceivedMail] = []
        self._condition = threading.Condition()
        self._controller: _BoundController | None = None

    def start(self) -> SmtpReceiver:
        """Listen (on the same port as before, after a stop) and serve in a thread."""
        if self._controller is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            options: dict[str, Any] = {}
            if self.tls_context is not None:
                options.update(tls_context=self.tls_context, require_starttls=True)
            if self.credentials is not None:
                options.update(authenticator=self._authenticate, auth_required=True)
            controller = _BoundController(_SmtpHandler(self), sock, **options)
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop the server; the port then refuses connections."""
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """Wait until ``count`` mails arrived; return them all."""
        _wait(
            self._condition,
            lambda: len(self.messages) >= count,
            timeout,
            lambda: f"{count} mail(s), got {len(self.messages)}",
        )
        with self._condition:
            return list(self.messages)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        given = None
        if isinstance(auth_data, LoginPassword):
            given = (auth_data.login.decode(), auth_data.password.decode())
        if given is not None and given == self.credentials:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    def _record(self, mail: ReceivedMail) -> None:
        with self._condition:
            self.messages.append(mail)
            self._condition.notify_all()
