"""The outbox dispatcher against real receivers on loopback: delivered, retried, never lost."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.outbox import DispatchSettings, dispatch_once
from models.outbox import OutboxMessage, add_message, claim_due


def queue(in_db, now, target, channel="webhook", count=1):
    def add(session):
        return [
            add_message(
                session,
                kind="flag",
                channel=channel,
                target=target,
                recipient="ward",
                subject="[cartwatch] URGENT",
                text="Fever 38.6",
                payload={"event": "flags.raised"},
                now=now,
            )
            for _ in range(count)
        ]

    return in_db(add)


def rows(in_db):
    return in_db(
        lambda s: [
            (r.status, r.attempts) for r in s.query(OutboxMessage).order_by(OutboxMessage.outbox_id)
        ]
    )


NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_webhook_is_delivered_signed_with_its_delivery_id(
    sessions, in_db, channels, webhook_receiver
):
    (delivery_id,) = queue(in_db, NOW, webhook_receiver.target)
    counts = dispatch_once(sessions, channels, now=NOW)
    assert counts.sent == 1
    (received,) = webhook_receiver.wait_for(1)
    assert received.signature_valid and received.delivery_id == delivery_id
    assert (
        received.payload["event"] == "flags.raised"
        and received.payload["delivery_id"] == delivery_id
    )
    assert rows(in_db) == [("sent", 1)]


def test_receiver_down_then_up_gets_it_once_not_lost_not_duplicated(
    sessions, in_db, channels, webhook_receiver
):
    queue(in_db, NOW, webhook_receiver.target)
    webhook_receiver.stop()
    assert dispatch_once(sessions, channels, now=NOW).retried == 1
    assert rows(in_db) == [("pending", 1)]
    # Not due again before the backoff (5 s after the first failure).
    assert dispatch_once(sessions, channels, now=NOW + timedelta(seconds=4)).handled == 0
    webhook_receiver.start()
    assert dispatch_once(sessions, channels, now=NOW + timedelta(seconds=5)).sent == 1
    assert len(webhook_receiver.wait_for(1)) == 1
    assert dispatch_once(sessions, channels, now=NOW + timedelta(hours=1)).handled == 0
    assert len(webhook_receiver.received) == 1
    assert rows(in_db) == [("sent", 2)]


def test_backoff_doubles_and_the_last_attempt_dead_letters(
    sessions, in_db, channels, webhook_receiver
):
    queue(in_db, NOW, webhook_receiver.target)
    webhook_receiver.respond_with = 503
    settings = DispatchSettings(max_attempts=4)
    at = NOW
    for expected_wait in (5, 10, 20):
        assert dispatch_once(sessions, channels, now=at, settings=settings).retried == 1
        due = in_db(lambda s: s.query(OutboxMessage).one().next_attempt_at)
        assert due - at == timedelta(seconds=expected_wait)
        at = due
    assert dispatch_once(sessions, channels, now=at, settings=settings).dead == 1
    assert rows(in_db) == [("dead", 4)]


def test_permanent_failure_is_dead_at_once_and_an_admin_can_retry_it(
    client, make_user, sessions, in_db, channels, webhook_receiver, clock
):
    queue(in_db, NOW, webhook_receiver.target)
    webhook_receiver.respond_with = 410
    assert dispatch_once(sessions, channels, now=NOW).dead == 1
    admin = make_user("admin")
    dead = client.get("/api/v1/outbox", headers=admin.headers).json
    assert len(dead) == 1 and "410" in dead[0]["last_error"]
    assert client.get("/api/v1/outbox", headers=make_user("clinician").headers).status_code == 403
    webhook_receiver.respond_with = 200
    assert (
        client.post(
            f"/api/v1/outbox/{dead[0]['outbox_id']}/retry", headers=admin.headers
        ).status_code
        == 200
    )
    assert dispatch_once(sessions, channels, now=clock.now).sent == 1


def test_unconfigured_channel_dead_letters_instead_of_vanishing(sessions, in_db, channels):
    queue(in_db, NOW, {"address": "x"}, channel="carrier-pigeon")
    counts = dispatch_once(sessions, channels, now=NOW)
    assert counts.dead == 1 and "not configured" in counts.errors[0]


def test_email_arrives_at_the_smtp_server(sessions, in_db, channels, smtp_receiver):
    (delivery_id,) = queue(in_db, NOW, {"address": "nurses@example.org"}, channel="email")
    assert dispatch_once(sessions, channels, now=NOW).sent == 1
    (mail,) = smtp_receiver.wait_for(1)
    assert list(mail.rcpt_tos) == ["nurses@example.org"] and mail.subject == "[cartwatch] URGENT"
    assert "Fever 38.6" in mail.body and delivery_id in mail.headers["X-Cartwatch-Delivery"]


def test_a_dispatcher_that_died_mid_send_leaves_the_row_to_be_claimed_after_the_lease(
    sessions, in_db, channels, webhook_receiver
):
    queue(in_db, NOW, webhook_receiver.target)
    with sessions() as session:  # claimed, then the process "dies" before recording anything
        claim_due(session, now=NOW, lease_until=NOW + timedelta(seconds=60), limit=10)
        session.commit()
    assert dispatch_once(sessions, channels, now=NOW + timedelta(seconds=59)).handled == 0
    assert dispatch_once(sessions, channels, now=NOW + timedelta(seconds=60)).sent == 1
    assert len(webhook_receiver.wait_for(1)) == 1


def test_concurrent_dispatchers_never_claim_the_same_row(app, sessions, in_db):
    with sessions() as probe:
        if probe.bind.dialect.name != "postgresql":
            pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has one writer")
    queue(in_db, NOW, {"url": "http://127.0.0.1:9/", "secret": "s" * 20}, count=6)
    first, second = sessions(), sessions()
    try:
        a = [
            r.outbox_id
            for r in claim_due(first, now=NOW, lease_until=NOW + timedelta(minutes=1), limit=3)
        ]
        b = [
            r.outbox_id
            for r in claim_due(second, now=NOW, lease_until=NOW + timedelta(minutes=1), limit=3)
        ]
        assert len(a) == 3 and len(b) == 3 and not set(a) & set(b)
    finally:
        first.rollback(), second.rollback(), first.close(), second.close()
