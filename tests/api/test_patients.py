"""Enrolment, activation codes and the patient record."""

from datetime import date, timedelta

import pytest

from models.patients import Patient
from tests.conftest import enrolment


def enrol(client, team, **overrides):
    body = enrolment(team_id=team["team_id"], **overrides)
    return client.post("/api/v1/patients", json=body, headers=team["clinician"].headers)


def count_patients(in_db):
    return in_db(lambda s: s.query(Patient).count())


def test_clinician_enrols_a_patient_and_gets_a_one_time_activation_code(client, make_team):
    team = make_team()
    response = enrol(client, team, mrn="MRN-1", ice_baseline=10)
    assert response.status_code == 201
    patient = response.json["patient"]
    assert patient["status"] == "active" and patient["has_login"] is False
    assert patient["monitoring_days"] == 28 and patient["ice_baseline"] == 10
    code = response.json["activation"]["code"]
    assert len(code) == 14

    activated = client.post(
        "/api/v1/auth/activate",
        json={
            "code": code.lower().replace("-", " "),
            "email": "alex@example.org",
            "password": "a long password",
        },
    )
    assert activated.status_code == 201
    headers = {"Authorization": f"Bearer {activated.json['access_token']}"}
    mine = client.get(f"/api/v1/patients/{patient['patient_id']}", headers=headers)
    assert mine.status_code == 200 and mine.json["has_login"] is True

    again = client.post(
        "/api/v1/auth/activate",
        json={"code": code, "email": "eve@example.org", "password": "a long password"},
    )
    assert again.status_code == 422
    assert "code" in again.json["errors"]["json"]


def test_enrolment_defaults(client, make_team):
    team = make_team()
    body = enrolment(team_id=team["team_id"])
    for key in ("language", "temperature_unit", "monitoring_days", "checkin_times"):
        body.pop(key)
    response = client.post("/api/v1/patients", json=body, headers=team["clinician"].headers)
    assert response.status_code == 201
    patient = response.json["patient"]
    assert (patient["language"], patient["temperature_unit"], patient["monitoring_days"]) == (
        "en",
        "C",
        28,
    )
    assert patient["checkin_times"] == ["09:00", "21:00"]


def test_activation_code_expires(client, make_team, clock):
    team = make_team()
    code = enrol(client, team).json["activation"]["code"]
    clock.advance(days=7)
    response = client.post(
        "/api/v1/auth/activate",
        json={"code": code, "email": "alex@example.org", "password": "a long password"},
    )
    assert response.status_code == 422


def test_new_activation_code_cancels_the_old_one(client, make_team):
    team = make_team()
    enrolled = enrol(client, team).json
    patient_id = enrolled["patient"]["patient_id"]
    reissued = client.post(
        f"/api/v1/patients/{patient_id}/activation-code", headers=team["clinician"].headers
    )
    assert reissued.status_code == 201
    old = client.post(
        "/api/v1/auth/activate",
        json={
            "code": enrolled["activation"]["code"],
            "email": "a@example.org",
            "password": "a long password",
        },
    )
    assert old.status_code == 422
    new = client.post(
        "/api/v1/auth/activate",
        json={
            "code": reissued.json["code"],
            "email": "a@example.org",
            "password": "a long password",
        },
    )
    assert new.status_code == 201


def test_clinician_cannot_enrol_into_another_team(client, make_team, in_db):
    mine, theirs = make_team(), make_team()
    body = enrolment(team_id=theirs["team_id"])
    response = client.post("/api/v1/patients", json=body, headers=mine["clinician"].headers)
    assert response.status_code == 404
    assert "team_id" in response.json["errors"]["json"]
    assert count_patients(in_db) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("timezone", "Mars/Olympus"),
        ("timezone", "EST5EDT "),
        ("language", "fr"),
        ("temperature_unit", "K"),
        ("product", "unknown-car-t"),
        ("monitoring_days", 0),
        ("monitoring_days", 366),
        ("monitoring_days", "28"),
        ("checkin_times", []),
        ("checkin_times", ["24:00"]),
        ("checkin_times", ["8:00"]),
        ("checkin_times", ["08:00", "08:00"]),
        ("checkin_times", ["01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00"]),
        ("ice_baseline", 11),
        ("ice_baseline", -1),
        ("display_name", ""),
        ("display_name", "a\x00b"),
        ("date_of_birth", "1970-02-30"),
        ("infusion_date", "yesterday"),
    ],
)
def test_bad_enrolment_field_is_422_naming_it_and_stores_nothing(
    client, make_team, in_db, field, value
):
    team = make_team()
    response = enrol(client, team, **{field: value})
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert count_patients(in_db) == 0


@pytest.mark.parametrize("days, ok", [(1, True), (365, True)])
def test_monitoring_window_bounds_are_accepted(client, make_team, days, ok):
    assert enrol(client, make_team(), monitoring_days=days).status_code == 201


def test_date_of_birth_in_the_future_is_refused(client, make_team, in_db):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = enrol(client, make_team(), date_of_birth=tomorrow)
    assert response.status_code == 422
    assert "date_of_birth" in response.json["errors"]["json"]
    assert count_patients(in_db) == 0


def test_infusion_before_birth_is_refused(client, make_team):
    response = enrol(client, make_team(), date_of_birth="1990-01-01", infusion_date="1989-12-31")
    assert response.status_code == 422
    assert "infusion_date" in response.json["errors"]["json"]


def test_unknown_field_is_rejected(client, make_team):
    response = enrol(client, make_team(), blood_type="O+")
    assert response.status_code == 422
    assert "blood_type" in response.json["errors"]["json"]


def test_mrn_is_unique_within_a_team_only(client, make_team):
    team, other = make_team(), make_team()
    assert enrol(client, team, mrn="MRN-7").status_code == 201
    clash = enrol(client, team, mrn="MRN-7")
    assert clash.status_code == 409 and "mrn" in clash.json["errors"]["json"]
    assert enrol(client, other, mrn="MRN-7").status_code == 201


def test_checkin_times_are_stored_sorted(client, make_team):
    response = enrol(client, make_team(), checkin_times=["20:00", "07:30"])
    assert response.json["patient"]["checkin_times"] == ["07:30", "20:00"]


def test_clinician_updates_enrolment_and_omitted_fields_stay(client, make_patient):
    patient = make_patient(language="es", monitoring_days=28)
    nurse = patient.extra["team"]["clinician"]
    response = client.patch(
        f"/api/v1/patients/{patient.patient_id}",
        json={"monitoring_days": 100},
        headers=nurse.headers,
    )
    assert response.status_code == 200
    assert response.json["monitoring_days"] == 100 and response.json["language"] == "es"


def test_patient_and_caregiver_cannot_change_enrolment(client, make_patient, link_caregiver):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    for person in (patient, caregiver):
        response = client.patch(
            f"/api/v1/patients/{patient.patient_id}",
            json={"monitoring_days": 1},
            headers=person.headers,
        )
        assert response.status_code == 403


def test_patient_list_is_scoped_to_the_caller(client, make_team, make_patient, link_caregiver):
    team = make_team()
    first, second = make_patient(team), make_patient(team)
    stranger = make_patient()
    caregiver = link_caregiver(second)
    nurse_ids = {
        p["patient_id"]
        for p in client.get("/api/v1/patients", headers=team["clinician"].headers).json
    }
    assert nurse_ids == {first.patient_id, second.patient_id}
    assert [
        p["patient_id"] for p in client.get("/api/v1/patients", headers=caregiver.headers).json
    ] == [second.patient_id]
    assert [
        p["patient_id"] for p in client.get("/api/v1/patients", headers=stranger.headers).json
    ] == [stranger.patient_id]


def test_patient_list_is_paginated(client, make_team, make_patient):
    team = make_team()
    for _ in range(3):
        make_patient(team)
    response = client.get("/api/v1/patients?page=2&page_size=2", headers=team["clinician"].headers)
    assert response.status_code == 200 and len(response.json) == 1
    assert '"total": 3' in response.headers["X-Pagination"]
    huge = client.get("/api/v1/patients?page=99999999999", headers=team["clinician"].headers)
    assert huge.status_code == 200 and huge.json == []
