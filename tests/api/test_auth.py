"""Login, refresh rotation, reuse detection, logout, expiry and rate limits."""

from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from tests.conftest import PASSWORD


def login(client, email, password=PASSWORD, address="127.0.0.1"):
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_login_returns_tokens_that_open_the_account(client, make_user):
    nurse = make_user("clinician")
    response = login(client, nurse.email.upper())
    assert response.status_code == 200
    tokens = response.json
    assert tokens["role"] == "clinician" and tokens["token_type"] == "Bearer"
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json["user"]["email"] == nurse.email
    assert me.json["patient_id"] is None


def test_patient_sees_own_patient_id_in_me(client, make_patient):
    patient = make_patient()
    me = client.get("/api/v1/auth/me", headers=patient.headers)
    assert me.json["patient_id"] == patient.patient_id


@pytest.mark.parametrize(
    "email, password", [("nobody@example.org", PASSWORD), (None, "wrong password!")]
)
def test_wrong_credentials_are_refused_with_one_message(client, make_user, email, password):
    nurse = make_user("clinician")
    response = login(client, email or nurse.email, password)
    assert response.status_code == 401
    assert response.json["message"] == "Wrong e-mail or password."
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_request_without_token_is_401_in_the_error_shape(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json["code"] == 401 and "message" in response.json


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(client, make_user):
    nurse = make_user("clinician")
    first = login(client, nurse.email).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # The thief's replay ended the whole family: the newest tokens stop working too.
    newest = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]}
    )
    assert newest.status_code == 401
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second.json['access_token']}"}
    )
    assert me.status_code == 401


def test_access_token_is_not_accepted_as_refresh_token(client, make_user):
    nurse = make_user("clinician")
    tokens = login(client, nurse.email).json
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


def test_garbage_refresh_token_is_401(client):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-jwt"})
    assert response.status_code == 401


def test_logout_ends_access_and_refresh_at_once(client, make_user):
    nurse = make_user("clinician")
    tokens = login(client, nurse.email).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


def test_expired_access_token_is_401(app, client, make_user):
    nurse = make_user("clinician")
    with app.app_context():
        token = create_access_token(
            identity=str(nurse.user_id), expires_delta=timedelta(seconds=-1)
        )
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json["message"]


def test_deactivated_account_loses_access_immediately(client, make_user):
    admin = make_user("admin")
    nurse = make_user("clinician")
    assert client.get("/api/v1/auth/me", headers=nurse.headers).status_code == 200
    response = client.patch(
        f"/api/v1/users/{nurse.user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=nurse.headers).status_code == 401
    assert login(client, nurse.email).status_code == 401


def test_login_is_rate_limited_per_account(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "3 per minute")
    nurse = make_user("clinician")
    for attempt in range(3):
        assert (
            login(client, nurse.email, "wrong password!", f"127.0.0.{attempt + 1}").status_code
            == 401
        )
    # A fourth try, even with the right password and from yet another address, waits.
    blocked = login(client, nurse.email, PASSWORD, "127.0.0.9")
    assert blocked.status_code == 429
    assert blocked.json["code"] == 429
    other = make_user("clinician")
    assert login(client, other.email, PASSWORD, "127.0.0.9").status_code == 200


def test_login_is_rate_limited_per_address(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per minute")
    users = [make_user("clinician") for _ in range(4)]
    for user in users[:3]:
        assert login(client, user.email, address="127.0.0.7").status_code == 200
    assert login(client, users[3].email, address="127.0.0.7").status_code == 429
    assert login(client, users[3].email, address="127.0.0.8").status_code == 200
