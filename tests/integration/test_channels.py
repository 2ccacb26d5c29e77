"""Notification channels against real receivers on loopback (HTTP server, SMTP server).

No app and no database: these tests do not use the ``app`` fixture. Only the SMS and push
providers are doubles, because the real ones are third-party services.
"""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.channels import DeliveryError, Message
from alerts.channels.email import EmailChannel, message_id_for
from alerts.channels.push import (
    MAX_BODY_BYTES,
    MAX_TITLE_BYTES,
    LoggingPushProvider,
    PushChannel,
)
from alerts.channels.registry import ChannelConfigError, channels_from_config, close_channels
from alerts.channels.sms import LoggingSmsProvider, SmsChannel, fit_sms, sms_units
from alerts.channels.webhook import WebhookChannel, sign, verify
from tests.support.receivers import DROP, SmtpReceiver, WebhookReceiver

SECRET = "whsec-test-0123456789abcdef"
TEXT = "Alex Example reported a temperature of 38.9 °C at 14:02. Call the patient now."


def make_message(**overrides: Any) -> Message:
    values: dict[str, Any] = {
        "delivery_id": "6f1c2a9e-3b7d-4c1e-9a55-0d2b8f7e4a10",
        "kind": "flag",
        "subject": "Urgent: fever 38.9 °C",
        "text": TEXT,
        "payload": {"kind": "flag", "flag_id": 17, "level": "urgent", "summary": "fiebre 38,9 °C"},
        "created_at": datetime(2025, 7, 1, 12, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return Message(**values)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


@pytest.fixture
def webhook() -> Iterator[WebhookChannel]:
    with WebhookChannel(timeout=2.0) as channel:
        yield channel


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as running:
        yield running


# -- webhook: delivery and signature ------------------------------------------------------------


def test_webhook_arrives_signed_with_delivery_id_and_compact_json_payload(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    message = make_message()
    before = int(time.time())

    webhook.send(receiver.target, message)

    [request] = receiver.wait_for(1, timeout=5)
    assert request.method == "POST"
    assert request.path == "/hooks/cartwatch"
    assert request.status == 200
    assert request.signature_valid
    assert request.delivery_id == message.delivery_id
    assert request.payload == dict(message.payload)
    assert request.header("Content-Type") == "application/json"
    assert request.body == json.dumps(
        dict(message.payload), separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    timestamp = request.header("X-Cartwatch-Timestamp")
    assert timestamp is not None and before <= int(timestamp) <= int(time.time())
    assert request.header("X-Cartwatch-Signature") == sign(SECRET, int(timestamp), request.body)


def test_verify_accepts_the_delivered_request_and_refuses_tampering_wrong_secret_and_old_time(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    webhook.send(receiver.target, make_message())
    [request] = receiver.wait_for(1, timeout=5)
    timestamp = request.header("X-Cartwatch-Timestamp") or ""
    signature = request.header("X-Cartwatch-Signature") or ""
    now = int(timestamp)

    assert verify(SECRET, timestamp, request.body, signature, now=now)
    tampered = request.body.replace(b'"urgent"', b'"routine"')
    assert tampered != request.body
    assert not verify(SECRET, timestamp, tampered, signature, now=now)
    assert not verify("another-secret", timestamp, request.body, signature, now=now)
    assert not verify(SECRET, timestamp, request.body, signature, now=now + 301)
    assert not verify(SECRET, timestamp, request.body, signature, now=now - 301)
    assert verify(SECRET, timestamp, request.body, signature, now=now + 300)
    # A replayed body under a fresh timestamp does not match the old signature.
    assert not verify(SECRET, str(now + 10), request.body, signature, now=now + 10)
    assert not verify(SECRET, "not-a-number", request.body, signature, now=now)
    assert not verify(SECRET, timestamp, request.body, "", now=now)


def test_verify_accepts_any_of_several_signatures_during_secret_rotation() -> None:
    body, timestamp = b'{"a":1}', 1_750_000_000
    header = f"{sign('old-secret', timestamp, body)}, {sign('new-secret', timestamp, body)}"

    assert verify("new-secret", str(timestamp), body, header, now=timestamp)
    assert verify("old-secret", str(timestamp), body, header, now=timestamp)
    assert not verify("third-secret", str(timestamp), body, header, now=timestamp)


# -- webhook: failures --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_webhook_server_error_or_rate_limit_is_transient(
    receiver: WebhookReceiver, webhook: WebhookChannel, status: int
) -> None:
    receiver.respond_with = status

    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message())

    assert not caught.value.permanent
    assert str(status) in str(caught.value)
    assert receiver.wait_for(1, timeout=5)[0].status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301, 308])
def test_webhook_client_error_or_redirect_is_permanent(
    receiver: WebhookReceiver, webhook: WebhookChannel, status: int
) -> None:
    receiver.respond_with = status

    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message())

    assert caught.value.permanent
    assert str(status) in str(caught.value)


def test_webhook_retry_after_from_the_receiver_is_reported(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    receiver.respond_with = 429
    receiver.retry_after = "7"

    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message())

    assert not caught.value.permanent
    assert caught.value.retry_after == 7


def test_webhook_to_a_stopped_receiver_is_transient_and_resumes_after_restart(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    webhook.send(receiver.target, make_message(delivery_id="before"))  # leaves a pooled connection
    receiver.stop()

    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message(delivery_id="while-down"))
    assert not caught.value.permanent
    assert "refused" in str(caught.value)

    receiver.start()  # same port
    webhook.send(receiver.target, make_message(delivery_id="after"))
    assert [r.delivery_id for r in receiver.wait_for(2, timeout=5)] == ["before", "after"]


def test_webhook_pooled_connection_closed_by_a_restart_is_not_a_failure(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    webhook.send(receiver.target, make_message(delivery_id="first"))
    receiver.stop()
    receiver.start()

    webhook.send(receiver.target, make_message(delivery_id="second"))

    assert [r.delivery_id for r in receiver.wait_for(2, timeout=5)] == ["first", "second"]
    assert receiver.connection_count == 2


def test_webhook_receiver_that_never_answers_fails_transiently_within_the_timeout(
    receiver: WebhookReceiver,
) -> None:
    receiver.delay = 30.0  # stop() cuts this short at teardown
    started = time.monotonic()

    with WebhookChannel(timeout=0.3) as channel, pytest.raises(DeliveryError) as caught:
        channel.send(receiver.target, make_message())

    assert time.monotonic() - started < 2.0
    assert not caught.value.permanent
    assert "no answer within 0.3 s" in str(caught.value)


def test_webhook_connection_dropped_without_answer_on_a_fresh_connection_is_transient(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    receiver.respond_next(DROP)

    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message())

    assert not caught.value.permanent


def test_webhook_dropped_by_receiver_on_a_reused_connection_is_sent_again_once(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    webhook.send(receiver.target, make_message(delivery_id="first"))
    receiver.respond_next(DROP)

    webhook.send(receiver.target, make_message(delivery_id="second"))

    requests = receiver.wait_for(3, timeout=5)
    # At least once: the receiver saw "second" twice and de-duplicates on the delivery id.
    assert [(r.delivery_id, r.status) for r in requests] == [
        ("first", 200),
        ("second", DROP),
        ("second", 200),
    ]
    assert [r.connection_number for r in requests] == [1, 1, 2]


def test_webhook_two_sends_reuse_one_tcp_connection(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    webhook.send(receiver.target, make_message(delivery_id="one"))
    webhook.send(receiver.target, make_message(delivery_id="two"))

    first, second = receiver.wait_for(2, timeout=5)
    assert receiver.connection_count == 1
    assert first.client_address == second.client_address
    assert first.connection_number == second.connection_number == 1


def test_webhook_channel_is_safe_to_share_between_threads(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    failures: list[BaseException] = []

    def send_five(worker: int) -> None:
        for n in range(5):
            try:
                webhook.send(receiver.target, make_message(delivery_id=f"w{worker}-{n}"))
            except BaseException as exc:  # collected, asserted below
                failures.append(exc)

    threads = [threading.Thread(target=send_five, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    requests = receiver.wait_for(40, timeout=5)
    assert sorted(r.delivery_id or "" for r in requests) == sorted(
        f"w{w}-{n}" for w in range(8) for n in range(5)
    )
    assert all(r.signature_valid for r in requests)
    assert receiver.connection_count <= 8  # pooled, at most one connection per thread


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a throwaway self-signed certificate and key for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[WebhookReceiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with WebhookReceiver(SECRET, ssl_context=context) as running:
        yield running


def test_webhook_over_https_is_signed_and_kept_alive(
    tls_receiver: WebhookReceiver, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    assert tls_receiver.url.startswith("https://")

    with WebhookChannel(timeout=2.0, ssl_context=trusting) as channel:
        channel.send(tls_receiver.target, make_message(delivery_id="one"))
        channel.send(tls_receiver.target, make_message(delivery_id="two"))

    requests = tls_receiver.wait_for(2, timeout=5)
    assert [r.delivery_id for r in requests] == ["one", "two"]
    assert all(r.signature_valid for r in requests)
    assert tls_receiver.connection_count == 1


def test_webhook_to_an_untrusted_certificate_is_transient_and_sends_nothing(
    tls_receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    with pytest.raises(DeliveryError) as caught:
        webhook.send(tls_receiver.target, make_message())

    assert not caught.value.permanent
    assert "TLS verification failed" in str(caught.value)
    assert tls_receiver.received == []


@pytest.mark.parametrize(
    "target",
    [
        {"secret": SECRET},
        {"url": "https://hooks.example.org/x"},
        {"url": "https://hooks.example.org/x", "secret": ""},
        {"url": "ftp://hooks.example.org/x", "secret": SECRET},
        {"url": "hooks.example.org/x", "secret": SECRET},
        {"url": "https://hooks.example.org/a b", "secret": SECRET},
        {"url": "https://user:pw@hooks.example.org/x", "secret": SECRET},
        {"url": "https://hooks.example.org:99999/x", "secret": SECRET},
    ],
)
def test_webhook_invalid_target_is_permanent(
    webhook: WebhookChannel, target: Mapping[str, str]
) -> None:
    with pytest.raises(DeliveryError) as caught:
        webhook.send(target, make_message())

    assert caught.value.permanent


def test_webhook_payload_that_is_not_json_is_permanent(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    with pytest.raises(DeliveryError) as caught:
        webhook.send(receiver.target, make_message(payload={"at": datetime.now(UTC)}))

    assert caught.value.permanent
    assert receiver.received == []


def test_webhook_error_names_the_host_but_not_the_path_or_query(
    receiver: WebhookReceiver, webhook: WebhookChannel
) -> None:
    # Paths and query strings often carry the receiver's access token.
    receiver.respond_with = 503
    target = {"url": f"{receiver.url}/T0KEN-path?token=T0KEN-query", "secret": SECRET}

    with pytest.raises(DeliveryError) as caught:
        webhook.send(target, make_message())

    assert f"127.0.0.1:{receiver.port}" in str(caught.value)
    assert "T0KEN" not in str(caught.value)


# -- email --------------------------------------------------------------------------------------


def email_channel(smtp: SmtpReceiver, **overrides: Any) -> EmailChannel:
    return EmailChannel(
        "127.0.0.1", smtp.port, "Cartwatch <alerts@cartwatch.example>", timeout=5, **overrides
    )


def test_email_arrives_with_subject_text_and_message_id_from_the_delivery_id(
    smtp: SmtpReceiver,
) -> None:
    message = make_message()

    email_channel(smtp).send({"address": "oncall@hospital.example"}, message)

    [mail] = smtp.wait_for(1, timeout=5)
    assert mail.mail_from == "alerts@cartwatch.example"
    assert mail.rcpt_tos == ("oncall@hospital.example",)
    assert mail.subject == message.subject
    assert mail.body.strip() == message.text
    assert mail.headers["Message-ID"] == f"<cartwatch.{message.delivery_id}@cartwatch.example>"
    assert mail.headers["X-Cartwatch-Delivery"] == message.delivery_id
    assert mail.headers["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "text/plain"


def test_email_sent_twice_carries_the_same_message_id(smtp: SmtpReceiver) -> None:
    channel = email_channel(smtp)
    channel.send({"address": "oncall@hospital.example"}, make_message())
    channel.send({"address": "oncall@hospital.example"}, make_message())

    first, second = smtp.wait_for(2, timeout=5)
    assert first.headers["Message-ID"] == second.headers["Message-ID"]


def test_message_id_stays_valid_for_a_delivery_id_that_is_not_a_dot_atom() -> None:
    message_id = message_id_for("a b@c<d>", "cartwatch.example")

    assert message_id == message_id_for("a b@c<d>", "cartwatch.example")
    assert message_id.startswith("<cartwatch.h") and message_id.endswith("@cartwatch.example>")
    assert " " not in message_id and message_id.count("@") == 1


@pytest.mark.parametrize(("code", "permanent"), [(550, True), (553, True), (450, False)])
def test_email_refused_recipient_is_permanent_for_5xx_and_transient_for_4xx(
    smtp: SmtpReceiver, code: int, permanent: bool
) -> None:
    smtp.refuse_with = code

    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp).send({"address": "gone@hospital.example"}, make_message())

    assert caught.value.permanent is permanent
    assert str(code) in str(caught.value)
    assert smtp.messages == []


def test_email_to_a_stopped_smtp_server_is_transient(smtp: SmtpReceiver) -> None:
    channel = email_channel(smtp)
    smtp.stop()

    with pytest.raises(DeliveryError) as caught:
        channel.send({"address": "oncall@hospital.example"}, make_message())

    assert not caught.value.permanent
    assert "refused" in str(caught.value)


@pytest.mark.parametrize(
    "address", ["", "not-an-address", "a@b@c.example", "x@example.org\r\nBcc: y@example.org"]
)
def test_email_invalid_address_is_permanent(smtp: SmtpReceiver, address: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp).send({"address": address}, make_message())

    assert caught.value.permanent
    assert smtp.messages == []


def test_email_with_starttls_to_a_server_without_it_is_permanent_not_plain_text(
    smtp: SmtpReceiver,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp, starttls=True).send({"address": "a@hospital.example"}, make_message())

    assert caught.value.permanent
    assert smtp.messages == []


def test_email_over_starttls_with_login_arrives(certificate: tuple[Path, Path]) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))

    with SmtpReceiver(tls_context=server_context, credentials=("cartwatch", "s3cret")) as smtp:
        email_channel(
            smtp, starttls=True, username="cartwatch", password="s3cret", ssl_context=trusting
        ).send({"address": "oncall@hospital.example"}, make_message())

        [mail] = smtp.wait_for(1, timeout=5)
    assert mail.subject == make_message().subject


def test_email_login_rejected_is_permanent(certificate: tuple[Path, Path]) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))

    with SmtpReceiver(tls_context=server_context, credentials=("cartwatch", "s3cret")) as smtp:
        channel = email_channel(
            smtp, starttls=True, username="cartwatch", password="wrong", ssl_context=trusting
        )
        with pytest.raises(DeliveryError) as caught:
            channel.send({"address": "oncall@hospital.example"}, make_message())

        assert smtp.messages == []
    assert caught.value.permanent
    assert "535" in str(caught.value)


def test_email_starttls_to_an_untrusted_certificate_is_transient_and_sends_nothing(
    certificate: tuple[Path, Path],
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)

    with SmtpReceiver(tls_context=server_context) as smtp:
        channel = email_channel(smtp, starttls=True)  # trusts only the system's CAs
        with pytest.raises(DeliveryError) as caught:
            channel.send({"address": "a@hospital.example"}, make_message())

        assert smtp.messages == []
    assert not caught.value.permanent
    assert "TLS verification failed" in str(caught.value)


# -- SMS and push -------------------------------------------------------------------------------


class RecordingSmsProvider:
    """A stand-in for an SMS service: records what the channel hands to it."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_with = fail_with

    def send_sms(self, number: str, text: str, delivery_id: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((number, text, delivery_id))


class RecordingPushProvider:
    """A stand-in for a push service."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []

    def send_push(self, device_token: str, title: str, body: str, delivery_id: str) -> None:
        self.sent.append((device_token, title, body, delivery_id))


def make_recording_sms_provider(config: Mapping[str, Any]) -> RecordingSmsProvider:
    """Factory used through SMS_PROVIDER in the registry tests."""
    provider = RecordingSmsProvider()
    provider.sent.append(("config", str(config.get("FAKE_SMS_ACCOUNT")), ""))
    return provider


def broken_sms_provider(config: Mapping[str, Any]) -> RecordingSmsProvider:
    """A factory whose settings are missing."""
    raise KeyError("TWILIO_ACCOUNT_SID")


def test_logging_sms_provider_logs_delivery_id_and_last_two_digits_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cartwatch.channels.sms")
    message = make_message()

    SmsChannel(LoggingSmsProvider()).send({"number": "+34612345678"}, message)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert message.delivery_id in logged
    assert "…78" in logged
    assert "612345678" not in logged and "+34" not in logged
    assert "38.9" not in logged and "temperature" not in logged and "fever" not in logged
    assert caplog.records[0].levelno == logging.WARNING  # nothing was sent: say so loudly


def test_logging_push_provider_logs_delivery_id_and_no_title_or_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cartwatch.channels.push")
    message = make_message()
    token = "fcm-device-token-0123456789abcdef"

    PushChannel(LoggingPushProvider()).send({"device_token": token}, message)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert message.delivery_id in logged
    assert token not in logged and "cdef" in logged
    assert "38.9" not in logged and "fever" not in logged and "Urgent" not in logged


def test_sms_channel_hands_e164_number_text_and_delivery_id_to_the_provider() -> None:
    provider = RecordingSmsProvider()

    SmsChannel(provider).send({"number": "+1 617-555-0100"}, make_message())

    # One GSM-7 segment: the degree sign alone would make it UCS-2 (70 characters a segment).
    expected = TEXT.replace("°C", "C")
    assert provider.sent == [("+16175550100", expected, make_message().delivery_id)]


def test_sms_text_is_cut_to_three_segments_at_a_word_boundary() -> None:
    long_text = "Fever 39.1 C reported. " + "Call the patient and assess for CRS. " * 30

    fitted = fit_sms(long_text)

    units, gsm = sms_units(fitted)
    assert gsm and units <= 3 * 153
    assert fitted.endswith("...") and not fitted.endswith(" ...")
    assert fitted.startswith("Fever 39.1 C reported.")
    assert long_text.startswith(fitted[:-3])


def test_sms_unicode_text_is_cut_to_three_ucs2_segments() -> None:
    fitted = fit_sms("Fiebre de 38,9 °C; confusión. Llame ahora. " * 20)

    units, gsm = sms_units(fitted)
    assert not gsm and units <= 3 * 67
    assert fitted.endswith("…")


def test_sms_typographic_punctuation_is_replaced_to_stay_in_gsm7() -> None:
    fitted = fit_sms("Fever 38.9 °C – call “now”…")

    assert fitted == 'Fever 38.9 C - call "now"...'
    assert sms_units(fitted) == (len(fitted), True)


@pytest.mark.parametrize("number", ["", "0612345678", "+0612345678", "+1234", "+12345678901234567"])
def test_sms_invalid_number_is_permanent(number: str) -> None:
    provider = RecordingSmsProvider()

    with pytest.raises(DeliveryError) as caught:
        SmsChannel(provider).send({"number": number}, make_message())

    assert caught.value.permanent
    assert provider.sent == []


def test_sms_provider_failure_is_transient_and_does_not_repeat_the_provider_message() -> None:
    provider = RecordingSmsProvider(fail_with=RuntimeError(f"API said: could not send {TEXT}"))

    with pytest.raises(DeliveryError) as caught:
        SmsChannel(provider).send({"number": "+34612345678"}, make_message())

    assert not caught.value.permanent
    assert "RuntimeError" in str(caught.value) and "38.9" not in str(caught.value)


def test_sms_provider_classification_is_kept() -> None:
    provider = RecordingSmsProvider(fail_with=DeliveryError("number unreachable", permanent=True))

    with pytest.raises(DeliveryError) as caught:
        SmsChannel(provider).send({"number": "+34612345678"}, make_message())

    assert caught.value.permanent


def test_push_title_and_body_are_cut_to_provider_sizes() -> None:
    provider = RecordingPushProvider()
    message = make_message(subject="Urgente: " + "confusión " * 60, text="🌡️ fiebre " * 500)

    PushChannel(provider).send({"device_token": "tok"}, message)

    [(token, title, body, delivery_id)] = provider.sent
    assert (token, delivery_id) == ("tok", message.delivery_id)
    assert len(title.encode()) <= MAX_TITLE_BYTES and title.startswith("Urgente: confusión")
    assert len(body.encode()) <= MAX_BODY_BYTES and body.endswith("…")


@pytest.mark.parametrize("token", ["", "has space", "x" * 5000])
def test_push_malformed_device_token_is_permanent(token: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        PushChannel(RecordingPushProvider()).send({"device_token": token}, make_message())

    assert caught.value.permanent


# -- registry -----------------------------------------------------------------------------------


def test_registry_builds_webhook_sms_and_push_without_smtp_host() -> None:
    channels = channels_from_config({"WEBHOOK_TIMEOUT": "2.5"})
    try:
        assert sorted(channels) == ["push", "sms", "webhook"]
        webhook = channels["webhook"]
        assert isinstance(webhook, WebhookChannel) and webhook.timeout == 2.5
        sms = channels["sms"]
        assert isinstance(sms, SmsChannel) and isinstance(sms.provider, LoggingSmsProvider)
        push = channels["push"]
        assert isinstance(push, PushChannel) and isinstance(push.provider, LoggingPushProvider)
        assert {name: channel.name for name, channel in channels.items()} == {
            name: name for name in channels
        }
    finally:
        close_channels(channels.values())


def test_registry_builds_email_from_environment_style_strings() -> None:
    channels = channels_from_config(
        {
            "SMTP_HOST": "smtp.hospital.example",
            "SMTP_PORT": "587",
            "SMTP_SENDER": "Cartwatch <alerts@hospital.example>",
            "SMTP_STARTTLS": "true",
            "SMTP_USERNAME": "cartwatch",
            "SMTP_PASSWORD": "s3cret",
            "SMS_PROVIDER": "none",
            "PUSH_PROVIDER": "none",
        }
    )
    try:
        assert sorted(channels) == ["email", "webhook"]
        email = channels["email"]
        assert isinstance(email, EmailChannel)
        assert (email.host, email.port, email.starttls, email.username) == (
            "smtp.hospital.example",
            587,
            True,
            "cartwatch",
        )
    finally:
        close_channels(channels.values())


def test_registry_email_channel_delivers_to_a_real_smtp_server(smtp: SmtpReceiver) -> None:
    channels = channels_from_config(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "SMTP_SENDER": "alerts@cw.example"}
    )
    try:
        channels["email"].send({"address": "team@hospital.example"}, make_message())
    finally:
        close_channels(channels.values())

    assert smtp.wait_for(1, timeout=5)[0].rcpt_tos == ("team@hospital.example",)


def test_registry_loads_a_provider_factory_from_a_dotted_path() -> None:
    channels = channels_from_config(
        {
            "SMS_PROVIDER": "tests.integration.test_channels:make_recording_sms_provider",
            "PUSH_PROVIDER": "tests.integration.test_channels:RecordingPushProvider",
            "FAKE_SMS_ACCOUNT": "AC123",
        }
    )
    try:
        sms, push = channels["sms"], channels["push"]
        assert isinstance(sms, SmsChannel) and isinstance(sms.provider, RecordingSmsProvider)
        assert sms.provider.sent == [("config", "AC123", "")]  # the factory got the settings
        assert isinstance(push, PushChannel)
        assert isinstance(push.provider, RecordingPushProvider)
    finally:
        close_channels(channels.values())


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("no_such_package.providers:make", "cannot import module 'no_such_package.providers'"),
        ("alerts.channels.sms:no_such_factory", "has no attribute 'no_such_factory'"),
        ("alerts.channels.sms", "is not 'logging', 'none' or 'package.module:factory'"),
        ("alerts.channels.sms:logger", "is not callable"),
        ("builtins:object", "has no send_sms() method"),
        (
            "tests.integration.test_channels:broken_sms_provider",
            "the factory raised KeyError: 'TWILIO_ACCOUNT_SID'",
        ),
    ],
)
def test_registry_bad_provider_path_raises_a_clear_error(setting: str, expected: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        channels_from_config({"SMS_PROVIDER": setting})

    assert "SMS_PROVIDER" in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"SMTP_HOST": "smtp.example.org"}, "SMTP_SENDER is required"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_SENDER": "nobody"}, "not an email address"),
        ({"SMTP_HOST": "h.example", "SMTP_SENDER": "a@b.example", "SMTP_PORT": "x"}, "SMTP_PORT"),
        (
            {"SMTP_HOST": "h.example", "SMTP_SENDER": "a@b.example", "SMTP_STARTTLS": "maybe"},
            "SMTP_STARTTLS",
        ),
        (
            {"SMTP_HOST": "h.example", "SMTP_SENDER": "a@b.example", "SMTP_USERNAME": "u"},
            "SMTP_USERNAME and SMTP_PASSWORD",
        ),
        ({"WEBHOOK_TIMEOUT": "0"}, "WEBHOOK_TIMEOUT must be positive"),
    ],
)
def test_registry_bad_setting_raises_a_clear_error(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(ChannelConfigError, match=expected.replace("(", r"\(")):
        channels_from_config(config | {"SMS_PROVIDER": "none", "PUSH_PROVIDER": "none"})


def test_message_refuses_a_naive_created_at_or_an_empty_delivery_id() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_message(created_at=datetime(2025, 7, 1, 12, 0))
    with pytest.raises(ValueError, match="delivery_id"):
        make_message(delivery_id=" ")
