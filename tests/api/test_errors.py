"""One error shape; malformed, oversized and wrong-method requests get clear 4xx answers."""


def test_malformed_json_is_400(client, make_team):
    team = make_team()
    response = client.post(
        "/api/v1/patients",
        data="{not json",
        content_type="application/json",
        headers=team["clinician"].headers,
    )
    assert response.status_code == 400
    assert response.json["code"] == 400


def test_oversized_body_is_413(client, make_team):
    team = make_team()
    response = client.post(
        "/api/v1/patients",
        data="x" * (65 * 1024),
        content_type="application/json",
        headers=team["clinician"].headers,
    )
    assert response.status_code == 413
    assert response.json["code"] == 413


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json["code"] == 405


def test_unknown_route_is_404_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["status"] == "Not Found"


def test_huge_path_id_is_404_not_500(client, make_team):
    team = make_team()
    response = client.get(
        "/api/v1/patients/99999999999999999999", headers=team["clinician"].headers
    )
    assert response.status_code == 404


def test_nul_in_text_is_422(client, make_user):
    admin = make_user("admin")
    response = client.post(
        "/api/v1/teams", json={"name": "a\x00b", "phone": "+16175550100"}, headers=admin.headers
    )
    assert response.status_code == 422
    assert "name" in response.json["errors"]["json"]
