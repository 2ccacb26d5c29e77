"""Caregiver invitations, sign-up, links and revocation."""


def invite(client, patient_id, headers):
    response = client.post(f"/api/v1/patients/{patient_id}/caregiver-invitations", headers=headers)
    assert response.status_code == 201
    return response.json["code"]


def signup(client, code, email="carer@example.org"):
    body = {
        "code": code,
        "email": email,
        "password": "a long password",
        "display_name": "Sam",
        "relationship": "son",
    }
    return client.post("/api/v1/caregivers/signup", json=body)


def test_patient_invites_and_a_new_caregiver_signs_up_and_sees_the_patient(client, make_patient):
    patient = make_patient()
    code = invite(client, patient.patient_id, patient.headers)
    response = signup(client, code)
    assert response.status_code == 201
    assert response.json["link"]["patient_id"] == patient.patient_id
    assert response.json["link"]["is_active"] is True
    headers = {"Authorization": f"Bearer {response.json['tokens']['access_token']}"}
    assert client.get(f"/api/v1/patients/{patient.patient_id}", headers=headers).status_code == 200


def test_clinician_can_invite_and_existing_caregiver_accepts(client, make_patient, make_user):
    patient = make_patient()
    nurse = patient.extra["team"]["clinician"]
    code = invite(client, patient.patient_id, nurse.headers)
    carer = make_user("caregiver")
    response = client.post("/api/v1/caregivers/links", json={"code": code}, headers=carer.headers)
    assert response.status_code == 201
    assert (
        client.get(f"/api/v1/patients/{patient.patient_id}", headers=carer.headers).status_code
        == 200
    )


def test_invitation_code_is_single_use(client, make_patient):
    patient = make_patient()
    code = invite(client, patient.patient_id, patient.headers)
    assert signup(client, code).status_code == 201
    again = signup(client, code, email="other@example.org")
    assert again.status_code == 422 and "code" in again.json["errors"]["json"]


def test_bad_code_on_signup_leaves_no_account_behind(client, make_patient):
    response = signup(client, "AAAA-BBBB-CCCC")
    assert response.status_code == 422
    login = client.post(
        "/api/v1/auth/login", json={"email": "carer@example.org", "password": "a long password"}
    )
    assert login.status_code == 401


def test_activation_code_does_not_work_as_invitation(client, make_team):
    team = make_team()
    from tests.conftest import enrolment

    enrolled = client.post(
        "/api/v1/patients",
        json=enrolment(team_id=team["team_id"]),
        headers=team["clinician"].headers,
    )
    assert signup(client, enrolled.json["activation"]["code"]).status_code == 422


def test_patient_account_cannot_accept_a_caregiver_invitation(client, make_patient):
    patient, other = make_patient(), make_patient()
    code = invite(client, patient.patient_id, patient.headers)
    response = client.post("/api/v1/caregivers/links", json={"code": code}, headers=other.headers)
    assert response.status_code == 403


def test_caregiver_cannot_invite_more_caregivers(client, make_patient, link_caregiver):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    response = client.post(
        f"/api/v1/patients/{patient.patient_id}/caregiver-invitations", headers=caregiver.headers
    )
    assert response.status_code == 403


def test_revoked_caregiver_loses_access_at_once(client, make_patient, link_caregiver):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    url = f"/api/v1/patients/{patient.patient_id}"
    assert client.get(url, headers=caregiver.headers).status_code == 200
    links = client.get(f"{url}/caregivers", headers=patient.headers).json
    assert [link["caregiver"]["user_id"] for link in links] == [caregiver.user_id]
    response = client.delete(
        f"{url}/caregivers/{caregiver.extra['link_id']}", headers=patient.headers
    )
    assert response.status_code == 204
    assert client.get(url, headers=caregiver.headers).status_code == 404
    assert client.get("/api/v1/patients", headers=caregiver.headers).json == []
    listed = client.get(f"{url}/caregivers", headers=patient.headers).json
    assert listed[0]["is_active"] is False and listed[0]["revoked_at"] is not None


def test_link_of_another_patient_cannot_be_revoked_through_this_patient(
    client, make_patient, link_caregiver
):
    mine, theirs = make_patient(), make_patient()
    their_carer = link_caregiver(theirs)
    response = client.delete(
        f"/api/v1/patients/{mine.patient_id}/caregivers/{their_carer.extra['link_id']}",
        headers=mine.headers,
    )
    assert response.status_code == 404
    assert (
        client.get(f"/api/v1/patients/{theirs.patient_id}", headers=their_carer.headers).status_code
        == 200
    )


def test_relinking_after_revocation_works(client, make_patient, link_caregiver):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    client.delete(
        f"/api/v1/patients/{patient.patient_id}/caregivers/{caregiver.extra['link_id']}",
        headers=patient.headers,
    )
    code = invite(client, patient.patient_id, patient.headers)
    assert (
        client.post(
            "/api/v1/caregivers/links", json={"code": code}, headers=caregiver.headers
        ).status_code
        == 201
    )
    assert (
        client.get(f"/api/v1/patients/{patient.patient_id}", headers=caregiver.headers).status_code
        == 200
    )
