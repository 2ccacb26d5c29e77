"""Care teams: created by admins, phone numbers in E.164, members are clinicians."""

import pytest


def team_body(**overrides):
    return {"name": "Cellular Therapy", "phone": "+1 (617) 555-0100"} | overrides


def test_admin_creates_team_and_phone_is_stored_as_e164(client, make_user):
    admin = make_user("admin")
    response = client.post(
        "/api/v1/teams", json=team_body(on_call_phone="+34 912 345 678"), headers=admin.headers
    )
    assert response.status_code == 201
    assert response.json["phone"] == "+16175550100"
    assert response.json["on_call_phone"] == "+34912345678"


@pytest.mark.parametrize("phone", ["617 555 0100", "+1 555", "call me", ""])
def test_team_phone_must_be_a_valid_international_number(client, make_user, phone):
    admin = make_user("admin")
    response = client.post("/api/v1/teams", json=team_body(phone=phone), headers=admin.headers)
    assert response.status_code == 422
    assert "phone" in response.json["errors"]["json"]
    assert client.get("/api/v1/teams", headers=admin.headers).json == []


def test_team_name_is_unique(client, make_user):
    admin = make_user("admin")
    assert client.post("/api/v1/teams", json=team_body(), headers=admin.headers).status_code == 201
    response = client.post("/api/v1/teams", json=team_body(), headers=admin.headers)
    assert response.status_code == 409
    assert "name" in response.json["errors"]["json"]


@pytest.mark.parametrize("role", ["clinician", "patient", "caregiver"])
def test_only_admins_create_teams(client, make_user, role):
    user = make_user(role)
    assert client.post("/api/v1/teams", json=team_body(), headers=user.headers).status_code == 403


def test_only_clinicians_become_members(client, make_user, make_team):
    admin = make_user("admin")
    team = make_team()
    caregiver = make_user("caregiver")
    response = client.post(
        f"/api/v1/teams/{team['team_id']}/members",
        json={"user_id": caregiver.user_id},
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert "user_id" in response.json["errors"]["json"]
    nurse = make_user("clinician")
    response = client.post(
        f"/api/v1/teams/{team['team_id']}/members",
        json={"user_id": nurse.user_id},
        headers=admin.headers,
    )
    assert response.status_code == 201
    assert {m["user_id"] for m in response.json["members"]} == {
        team["clinician"].user_id,
        nurse.user_id,
    }


def test_clinician_sees_and_edits_only_their_own_teams(client, make_team):
    mine, theirs = make_team(), make_team()
    nurse = mine["clinician"]
    listed = client.get("/api/v1/teams", headers=nurse.headers).json
    assert [t["team_id"] for t in listed] == [mine["team_id"]]
    assert (
        client.get(f"/api/v1/teams/{theirs['team_id']}", headers=nurse.headers).status_code == 404
    )
    response = client.patch(
        f"/api/v1/teams/{mine['team_id']}", json={"on_call_name": "Dr Night"}, headers=nurse.headers
    )
    assert response.status_code == 200 and response.json["on_call_name"] == "Dr Night"
    assert (
        client.patch(
            f"/api/v1/teams/{theirs['team_id']}", json={"on_call_name": "x"}, headers=nurse.headers
        ).status_code
        == 404
    )


def test_removed_member_no_longer_sees_the_teams_patients(client, make_user, make_patient):
    admin = make_user("admin")
    patient = make_patient()
    team = patient.extra["team"]
    nurse = team["clinician"]
    assert (
        client.get(f"/api/v1/patients/{patient.patient_id}", headers=nurse.headers).status_code
        == 200
    )
    response = client.delete(
        f"/api/v1/teams/{team['team_id']}/members/{nurse.user_id}", headers=admin.headers
    )
    assert response.status_code == 204
    assert (
        client.get(f"/api/v1/patients/{patient.patient_id}", headers=nurse.headers).status_code
        == 404
    )


def test_admin_creates_clinician_accounts_but_not_patients(client, make_user):
    admin = make_user("admin")
    body = {
        "email": "dr@example.org",
        "password": "long enough pw",
        "display_name": "Dr Who",
        "role": "clinician",
    }
    assert client.post("/api/v1/users", json=body, headers=admin.headers).status_code == 201
    assert client.post("/api/v1/users", json=body, headers=admin.headers).status_code == 409
    response = client.post(
        "/api/v1/users",
        json=body | {"email": "p@example.org", "role": "patient"},
        headers=admin.headers,
    )
    assert response.status_code == 422 and "role" in response.json["errors"]["json"]


@pytest.mark.parametrize("password, ok", [("123456789", False), ("1234567890", True)])
def test_password_needs_ten_characters(client, make_user, password, ok):
    admin = make_user("admin")
    body = {
        "email": "dr@example.org",
        "password": password,
        "display_name": "Dr",
        "role": "clinician",
    }
    response = client.post("/api/v1/users", json=body, headers=admin.headers)
    assert response.status_code == (201 if ok else 422)
