"""The whole loop through the HTTP API with real receivers on loopback.

A caregiver logs a fever with confusion; the answer prompts at once; the webhook receiver and the
SMTP server get the alert; nobody acknowledges; the escalation reaches the on-call contact; a
clinician acknowledges; the caregiver sees "seen at".
"""

from zoneinfo import ZoneInfo

from alerts import jobs
from tests.conftest import report_body


def test_fever_with_confusion_reaches_the_team_escalates_and_is_acknowledged(
    client,
    clock,
    make_team,
    make_patient,
    link_caregiver,
    sessions,
    channels,
    webhook_receiver,
    smtp_receiver,
):
    team = make_team(on_call_email="oncall@example.org", on_call_phone="+16175550101")
    nurse = team["clinician"]
    for body in (
        {"channel": "webhook", "label": "ward system", **webhook_receiver.target},
        {"channel": "email", "label": "nurses", "address": "nurses@example.org"},
    ):
        assert (
            client.post(
                f"/api/v1/teams/{team['team_id']}/notification-targets",
                json=body,
                headers=nurse.headers,
            ).status_code
            == 201
        )
    patient = make_patient(team, language="en", timezone="America/Chicago")
    caregiver = link_caregiver(patient)

    # 1. The caregiver logs a fever with confusion; the same response says what to do now.
    body = report_body(
        clock,
        temperature={"value": 101.3, "unit": "F"},
        symptoms=[{"code": "confusion", "severity": 2}],
    )
    response = client.post(
        f"/api/v1/patients/{patient.patient_id}/reports", json=body, headers=caregiver.headers
    )
    assert response.status_code == 201
    prompt = response.json["prompt"]
    assert prompt["action"] == "call_care_team" and prompt["phone"] == "+16175550100"
    assert {f["rule_id"] for f in response.json["flags"]} == {"R_FEVER", "R_CONFUSION"}

    # 2. The dispatcher delivers to the webhook receiver (signed) and the SMTP server.
    assert jobs.dispatch_outbox(sessions, channels, lambda: clock.now).sent == 2
    (hook,) = webhook_receiver.wait_for(1)
    assert hook.signature_valid
    assert (
        hook.payload["event"] == "flags.raised"
        and hook.payload["patient"]["patient_id"] == patient.patient_id
    )
    assert {f["rule_id"] for f in hook.payload["flags"]} == {"R_FEVER", "R_CONFUSION"}
    (mail,) = smtp_receiver.wait_for(1)
    assert list(mail.rcpt_tos) == ["nurses@example.org"] and "URGENT" in mail.subject

    # 3. Nobody acknowledges: after 15 minutes the on-call contact is reached.
    clock.advance(minutes=15)
    assert jobs.escalate_unacknowledged(sessions, clock.now) == {"escalated": 2}
    jobs.dispatch_outbox(sessions, channels, lambda: clock.now)
    mails = smtp_receiver.wait_for(3)
    assert [list(m.rcpt_tos) for m in mails[1:]] == [["oncall@example.org"], ["oncall@example.org"]]
    assert "not acknowledged after 15 min" in mails[1].subject

    # 4. A clinician acknowledges both flags; escalation stops.
    flags = client.get("/api/v1/flags", headers=nurse.headers).json
    for flag in flags:
        ack = client.post(
            f"/api/v1/patients/{patient.patient_id}/flags/{flag['flag_id']}/acknowledge",
            headers=nurse.headers,
        )
        assert ack.status_code == 200
    seen_at = clock.now
    clock.advance(hours=1)
    assert jobs.escalate_unacknowledged(sessions, clock.now) == {}

    # 5. The caregiver sees that the team saw it, in the patient's local time.
    mine = client.get(
        f"/api/v1/patients/{patient.patient_id}/flags", headers=caregiver.headers
    ).json
    local = seen_at.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M")
    assert {f["status_message"] for f in mine} == {f"Your care team saw this at {local}."}
    assert len(webhook_receiver.received) == 1


def test_alert_is_sent_right_after_the_commit_without_the_scheduler(
    app, client, clock, make_team, make_patient, channels, webhook_receiver, monkeypatch
):
    monkeypatch.setitem(app.config, "DISPATCH_ON_COMMIT", True)
    monkeypatch.setitem(app.extensions, "cartwatch.channels", channels)
    team = make_team()
    client.post(
        f"/api/v1/teams/{team['team_id']}/notification-targets",
        json={"channel": "webhook", "label": "ward", **webhook_receiver.target},
        headers=team["clinician"].headers,
    )
    patient = make_patient(team)
    response = client.post(
        f"/api/v1/patients/{patient.patient_id}/reports",
        json=report_body(clock, spo2=88),
        headers=patient.headers,
    )
    assert response.json["prompt"]["action"] == "call_emergency"
    (hook,) = webhook_receiver.wait_for(1, timeout=5)
    assert hook.payload["level"] == "emergency"
