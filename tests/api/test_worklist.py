"""The care team's worklist, acknowledgement, resolution, escalation and what the reporter sees."""

from datetime import timedelta

from alerts import jobs
from models.flags import FlagEscalation
from models.outbox import OutboxMessage
from tests.conftest import report_body


def submit(client, person, body, patient_id=None):
    response = client.post(
        f"/api/v1/patients/{patient_id or person.patient_id}/reports",
        json=body,
        headers=person.headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def add_target(client, team, **body):
    response = client.post(
        f"/api/v1/teams/{team['team_id']}/notification-targets",
        json=body,
        headers=team["clinician"].headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def outbox_rows(in_db, **filters):
    return in_db(
        lambda s: [
            (r.kind, r.channel, r.recipient, r.status)
            for r in s.query(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.outbox_id)
        ]
    )


def test_worklist_orders_most_severe_then_oldest(client, clock, make_team, make_patient):
    team = make_team()
    first, second = make_patient(team), make_patient(team)
    submit(
        client, first, report_body(clock, symptoms=[{"code": "fatigue", "severity": 1}])
    )  # watch
    clock.advance(minutes=1)
    submit(client, second, report_body(clock, heart_rate=125))  # urgent
    clock.advance(minutes=1)
    submit(client, first, report_body(clock, systolic_bp=75, diastolic_bp=40))  # emergency
    response = client.get("/api/v1/flags", headers=team["clinician"].headers)
    assert response.status_code == 200
    assert [(f["level"], f["rule_id"]) for f in response.json] == [
        ("emergency", "R_SEVERE_HYPOTENSION"),
        ("urgent", "R_TACHYCARDIA"),
        ("watch", "R_FATIGUE_MILD"),
    ]
    top = response.json[0]
    assert (
        top["patient"]["patient_id"] == first.patient_id and top["patient"]["product"] == "kymriah"
    )
    assert top["rule"]["source"] and top["inputs"]["systolic_bp"] == 75
    assert top["report"]["systolic_bp"] == 75 and top["last_readings"]["systolic_bp"] == 75
    only_urgent = client.get(
        "/api/v1/flags", query_string={"level": "urgent"}, headers=team["clinician"].headers
    )
    assert [f["rule_id"] for f in only_urgent.json] == ["R_TACHYCARDIA"]


def test_worklist_shows_only_the_callers_teams(client, clock, make_team, make_patient):
    mine, other = make_team(), make_team()
    submit(client, make_patient(other), report_body(clock, heart_rate=125))
    assert client.get("/api/v1/flags", headers=mine["clinician"].headers).json == []
    patient = make_patient(mine)
    assert client.get("/api/v1/flags", headers=patient.headers).status_code == 403


def test_acknowledge_then_resolve_and_the_reporter_sees_when(
    client, clock, make_patient, link_caregiver
):
    patient = make_patient(language="en", timezone="America/New_York")
    caregiver = link_caregiver(patient)
    nurse = patient.extra["team"]["clinician"]
    posted = submit(
        client,
        caregiver,
        report_body(clock, symptoms=[{"code": "confusion", "severity": 2}]),
        patient.patient_id,
    )
    flag_id = posted["flags"][0]["flag_id"]
    seen = client.get(
        f"/api/v1/patients/{patient.patient_id}/flags", headers=caregiver.headers
    ).json
    assert (
        "has not seen this yet" in seen[0]["status_message"]
        and "+16175550100" in seen[0]["status_message"]
    )

    clock.advance(minutes=4)
    ack = client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/acknowledge", headers=nurse.headers
    )
    assert ack.status_code == 200 and ack.json["status"] == "acknowledged"
    assert ack.json["next_escalation_at"] is None
    local = clock.now.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).strftime(
        "%H:%M"
    )
    seen = client.get(
        f"/api/v1/patients/{patient.patient_id}/flags", headers=caregiver.headers
    ).json
    assert seen[0]["status_message"] == f"Your care team saw this at {local}."

    resolved = client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/resolve",
        json={"outcome": "seen_in_clinic", "note": "Reviewed, ICE 10"},
        headers=nurse.headers,
    )
    assert resolved.status_code == 200 and resolved.json["outcome"] == "seen_in_clinic"
    again = client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/resolve",
        json={"outcome": "other"},
        headers=nurse.headers,
    )
    assert again.status_code == 409
    assert (
        client.get(f"/api/v1/patients/{patient.patient_id}/flags", headers=caregiver.headers).json
        == []
    )


def test_bad_outcome_is_422(client, clock, make_patient):
    patient = make_patient()
    nurse = patient.extra["team"]["clinician"]
    flag_id = submit(client, patient, report_body(clock, heart_rate=125))["flags"][0]["flag_id"]
    response = client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/resolve",
        json={"outcome": "cured"},
        headers=nurse.headers,
    )
    assert response.status_code == 422 and "outcome" in response.json["errors"]["json"]


def test_caregivers_cannot_acknowledge(client, clock, make_patient, link_caregiver):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    flag_id = submit(client, patient, report_body(clock, heart_rate=125))["flags"][0]["flag_id"]
    response = client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/acknowledge",
        headers=caregiver.headers,
    )
    assert response.status_code == 403


def test_new_urgent_flag_queues_team_targets_and_other_caregivers_in_the_same_transaction(
    client, clock, make_patient, link_caregiver, in_db
):
    patient = make_patient()
    team = patient.extra["team"]
    add_target(
        client,
        team,
        channel="webhook",
        label="ward system",
        url="http://127.0.0.1:9/hook",
        secret="s" * 20,
    )
    add_target(client, team, channel="email", label="nurses", address="nurses@example.org")
    reporter, other = link_caregiver(patient), link_caregiver(patient)
    submit(
        client,
        reporter,
        report_body(clock, temperature={"value": 38.5, "unit": "C"}),
        patient.patient_id,
    )
    rows = outbox_rows(in_db)
    assert ("flag", "webhook", "ward system", "pending") in rows
    assert ("flag", "email", "nurses", "pending") in rows
    assert ("flag_caregiver", "email", f"caregiver {other.user_id}", "pending") in rows
    assert ("flag_caregiver", "email", f"caregiver {reporter.user_id}", "pending") not in rows
    assert len(rows) == 3


def test_watch_flags_and_joined_flags_notify_nobody(client, clock, make_patient, in_db):
    patient = make_patient()
    add_target(
        client, patient.extra["team"], channel="email", label="nurses", address="nurses@example.org"
    )
    submit(client, patient, report_body(clock, symptoms=[{"code": "fatigue", "severity": 1}]))
    assert outbox_rows(in_db) == []
    submit(client, patient, report_body(clock, heart_rate=125))
    clock.advance(minutes=30)
    submit(client, patient, report_body(clock, heart_rate=130))  # joins the open flag
    assert len(outbox_rows(in_db)) == 1


def test_unacknowledged_emergency_escalates_on_call_then_fallback_then_everyone(
    client, clock, make_team, make_patient, sessions, in_db
):
    team = make_team(
        on_call_phone="+16175550101",
        on_call_email="oncall@example.org",
        fallback_phone="+16175550102",
        fallback_email=None,
    )
    patient = make_patient(team)
    add_target(client, team, channel="email", label="nurses", address="nurses@example.org")
    submit(client, patient, report_body(clock, systolic_bp=75, diastolic_bp=40))
    raised = clock.now

    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(minutes=4, seconds=59)) == {}
    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(minutes=5)) == {"escalated": 1}
    assert outbox_rows(in_db, kind="escalation") == [
        ("escalation", "sms", "on-call", "pending"),
        ("escalation", "email", "on-call", "pending"),
    ]
    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(minutes=10)) == {
        "escalated": 1
    }
    assert outbox_rows(in_db, kind="escalation")[2:] == [
        ("escalation", "sms", "fallback", "pending")
    ]
    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(minutes=15)) == {
        "escalated": 1
    }
    everyone = {row[2] for row in outbox_rows(in_db, kind="escalation")[3:]}
    assert everyone == {"nurses", "on-call", "fallback"}
    steps = in_db(lambda s: [e.step for e in s.query(FlagEscalation).order_by(FlagEscalation.step)])
    assert steps == [1, 2, 3]


def test_urgent_flag_escalates_after_15_minutes_and_acknowledgement_stops_it(
    client, clock, make_patient, sessions
):
    patient = make_patient()
    nurse = patient.extra["team"]["clinician"]
    flag_id = submit(client, patient, report_body(clock, heart_rate=125))["flags"][0]["flag_id"]
    raised = clock.now
    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(minutes=14, seconds=59)) == {}
    client.post(
        f"/api/v1/patients/{patient.patient_id}/flags/{flag_id}/acknowledge", headers=nurse.headers
    )
    assert jobs.escalate_unacknowledged(sessions, raised + timedelta(hours=2)) == {}


def test_team_sets_its_own_escalation_deadline(client, clock, make_patient, sessions):
    patient = make_patient()
    team = patient.extra["team"]
    response = client.patch(
        f"/api/v1/teams/{team['team_id']}",
        json={"escalate_urgent_minutes": 10},
        headers=team["clinician"].headers,
    )
    assert response.status_code == 200
    submit(client, patient, report_body(clock, heart_rate=125))
    assert jobs.escalate_unacknowledged(sessions, clock.now + timedelta(minutes=10)) == {
        "escalated": 1
    }


def test_notification_target_needs_its_channels_fields_and_hides_secrets(client, make_team):
    team = make_team()
    url = f"/api/v1/teams/{team['team_id']}/notification-targets"
    missing = client.post(
        url,
        json={"channel": "webhook", "label": "x", "url": "http://127.0.0.1:1/"},
        headers=team["clinician"].headers,
    )
    assert missing.status_code == 422 and "secret" in missing.json["errors"]["json"]
    bad_number = client.post(
        url,
        json={"channel": "sms", "label": "x", "number": "12"},
        headers=team["clinician"].headers,
    )
    assert bad_number.status_code == 422 and "number" in bad_number.json["errors"]["json"]
    plain_http = client.post(
        url,
        json={
            "channel": "webhook",
            "label": "x",
            "url": "http://ward.example.org/h",
            "secret": "s" * 20,
        },
        headers=team["clinician"].headers,
    )
    assert plain_http.status_code == 422 and "url" in plain_http.json["errors"]["json"]
    add_target(
        client,
        team,
        channel="webhook",
        label="ward",
        url="https://127.0.0.1:8443/h",
        secret="topsecret" * 3,
    )
    listed = client.get(url, headers=team["clinician"].headers).json
    assert (
        "topsecret" not in str(listed)
        and listed[0]["destination"] == "url=https://127.0.0.1:8443/h"
    )
    deleted = client.delete(f"{url}/{listed[0]['target_id']}", headers=team["clinician"].headers)
    assert (
        deleted.status_code == 204 and client.get(url, headers=team["clinician"].headers).json == []
    )


def test_clinical_summary(client, clock, make_patient, link_caregiver):
    patient = make_patient(infusion_date=clock.now.date().isoformat(), timezone="UTC")
    caregiver = link_caregiver(patient)
    nurse = patient.extra["team"]["clinician"]
    submit(client, patient, report_body(clock, heart_rate=125))
    response = client.get(
        f"/api/v1/patients/{patient.patient_id}/clinical-summary", headers=nurse.headers
    )
    assert response.status_code == 200
    body = response.json
    assert body["patient"]["day_since_infusion"] == 0 and body["patient"]["last_report_at"]
    assert [f["rule_id"] for f in body["open_flags"]] == ["R_TACHYCARDIA"]
    assert body["daily"][0]["max_heart_rate"] == 125
    assert [c["user_id"] for c in body["caregivers"]] == [caregiver.user_id]
    assert (
        client.get(
            f"/api/v1/patients/{patient.patient_id}/clinical-summary", headers=caregiver.headers
        ).status_code
        == 403
    )
