"""Every read and write of a patient's data leaves an audit event; no health data in logs."""

import logging

from models.audit import AuditEvent


def events(in_db, patient_id):
    return in_db(
        lambda s: [
            (e.action, e.actor_role, e.outcome, e.request_id)
            for e in s.query(AuditEvent)
            .filter_by(patient_id=patient_id)
            .order_by(AuditEvent.event_id)
        ]
    )


def test_reads_and_writes_are_audited_with_who_and_request_id(
    client, make_patient, link_caregiver, in_db
):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    nurse = patient.extra["team"]["clinician"]
    pid = patient.patient_id
    client.get(
        f"/api/v1/patients/{pid}", headers={**caregiver.headers, "X-Request-ID": "req-abcdef12"}
    )
    client.patch(f"/api/v1/patients/{pid}", json={"monitoring_days": 40}, headers=nurse.headers)
    client.get("/api/v1/patients", headers=patient.headers)
    trail = events(in_db, pid)
    assert trail[0] == ("patient.read", "caregiver", "ok", "req-abcdef12")
    assert trail[1][:3] == ("patient.update", "clinician", "ok")
    assert trail[2][:3] == ("patient.list", "patient", "ok")
    assert len(trail) == 3


def test_failed_write_leaves_neither_change_nor_audit(client, make_patient, in_db):
    patient = make_patient()
    nurse = patient.extra["team"]["clinician"]
    response = client.patch(
        f"/api/v1/patients/{patient.patient_id}", json={"monitoring_days": 0}, headers=nurse.headers
    )
    assert response.status_code == 422
    assert events(in_db, patient.patient_id) == []


def test_clinician_reads_the_audit_trail_newest_first_and_caregiver_cannot(
    client, make_patient, link_caregiver
):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    nurse = patient.extra["team"]["clinician"]
    client.get(f"/api/v1/patients/{patient.patient_id}", headers=caregiver.headers)
    response = client.get(f"/api/v1/patients/{patient.patient_id}/audit", headers=nurse.headers)
    assert response.status_code == 200
    # Newest first: this very read of the trail, then the caregiver's read of the record.
    trail = [(e["action"], e["actor_role"]) for e in response.json]
    assert trail == [("patient.audit_read", "clinician"), ("patient.read", "caregiver")]
    assert (
        client.get(
            f"/api/v1/patients/{patient.patient_id}/audit", headers=caregiver.headers
        ).status_code
        == 403
    )


def test_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert response.headers["X-Request-ID"] == "abc12345-trace"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["X-Request-ID"]) == 32


def test_logs_carry_no_names_identifiers_or_tokens(client, make_team, caplog):
    team = make_team()
    from tests.conftest import enrolment

    caplog.set_level(logging.DEBUG)
    body = enrolment(
        team_id=team["team_id"], display_name="Zebedee Quartermaine", mrn="MRN-SECRET-42"
    )
    response = client.post("/api/v1/patients", json=body, headers=team["clinician"].headers)
    assert response.status_code == 201
    text = caplog.text
    assert "POST /api/v1/patients 201" in text
    for secret in (
        "Zebedee",
        "MRN-SECRET-42",
        team["clinician"].headers["Authorization"][7:],
        response.json["activation"]["code"],
    ):
        assert secret not in text
