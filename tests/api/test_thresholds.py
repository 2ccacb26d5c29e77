"""Per-team thresholds: versioned, validated, applied to reports and recorded on every flag."""

import json
import uuid

import pytest

from alerts.rules import RULES


def put(client, team, overrides, headers=None):
    return client.put(
        f"/api/v1/teams/{team['team_id']}/thresholds",
        json={"overrides": overrides},
        headers=headers or team["clinician"].headers,
    )


def fever_report(client, clock, patient, celsius):
    body = {
        "client_report_id": str(uuid.uuid4()),
        "recorded_at": clock.now.isoformat(),
        "temperature": {"value": celsius, "unit": "C"},
    }
    return client.post(
        f"/api/v1/patients/{patient.patient_id}/reports", json=body, headers=patient.headers
    )


def test_defaults_are_version_zero(client, make_team):
    team = make_team()
    response = client.get(
        f"/api/v1/teams/{team['team_id']}/thresholds", headers=team["clinician"].headers
    )
    assert response.status_code == 200
    assert response.json["version"] == 0 and response.json["overrides"] == {}
    assert response.json["values"]["fever_c"] == "38.0"


@pytest.mark.parametrize("celsius, fever", [(38.2, False), (38.3, True)])
def test_team_fever_threshold_of_38_3_applies_and_is_recorded(
    client, clock, make_team, make_patient, celsius, fever
):
    team = make_team()
    patient = make_patient(team)
    response = put(client, team, {"fever_c": 38.3})
    assert response.status_code == 200 and response.json["version"] == 1
    result = fever_report(client, clock, patient, celsius)
    flags = {f["rule_id"]: f for f in result.json["flags"]}
    assert ("R_FEVER" in flags) is fever
    assert result.json["report"]["threshold_version"] == 1
    if fever:
        assert flags["R_FEVER"]["threshold_version"] == 1
        assert flags["R_FEVER"]["inputs"]["fever_c"] == "38.3"


def test_each_change_is_a_new_version_with_who_and_when(client, make_team):
    team = make_team()
    put(client, team, {"fever_c": 38.3})
    put(client, team, {"fever_c": 38.3, "hr_urgent_above": 130})
    versions = client.get(
        f"/api/v1/teams/{team['team_id']}/thresholds/versions", headers=team["clinician"].headers
    ).json
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["overrides"] == {"fever_c": "38.3", "hr_urgent_above": "130"}
    assert versions[0]["created_by_user_id"] == team["clinician"].user_id


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"fever_c": 41}, "fever_c"),
        ({"nonsense": 1}, "nonsense"),
        ({"sbp_emergency_below": 95}, "sbp_emergency_below"),
        ({"hr_urgent_above": "fast"}, "hr_urgent_above"),
    ],
)
def test_bad_thresholds_are_422_naming_them_and_change_nothing(client, make_team, overrides, field):
    team = make_team()
    response = put(client, team, overrides)
    assert response.status_code == 422
    assert field in json.dumps(response.json["errors"])
    assert (
        client.get(
            f"/api/v1/teams/{team['team_id']}/thresholds", headers=team["clinician"].headers
        ).json["version"]
        == 0
    )


def test_only_the_teams_clinicians_change_thresholds(client, make_team, make_patient, make_user):
    team, other = make_team(), make_team()
    assert (
        put(client, team, {"fever_c": 38.3}, headers=other["clinician"].headers).status_code == 404
    )
    patient = make_patient(team)
    assert put(client, team, {"fever_c": 38.3}, headers=patient.headers).status_code == 403
    admin = make_user("admin")
    assert (
        client.get(f"/api/v1/teams/{team['team_id']}/thresholds", headers=admin.headers).status_code
        == 200
    )
    assert put(client, team, {"fever_c": 38.3}, headers=admin.headers).status_code == 403


def test_rule_catalog_lists_every_rule_with_its_source_and_messages(client, make_user):
    user = make_user("caregiver")
    response = client.get("/api/v1/rules", headers=user.headers)
    assert response.status_code == 200
    assert [r["rule_id"] for r in response.json] == [r.rule_id for r in RULES]
    fever = next(r for r in response.json if r["rule_id"] == "R_FEVER")
    assert "[S1]" in fever["source"] and fever["level"] == "urgent"
    assert set(fever["messages"]) == {"en", "es"}
    assert client.get("/api/v1/rules").status_code == 401


def test_rules_check_command_prints_the_findings(app, tmp_path):
    body = tmp_path / "report.json"
    body.write_text(
        json.dumps(
            {
                "temperature": {"value": 100.4, "unit": "F"},
                "symptoms": [{"code": "confusion", "severity": 1}],
            }
        )
    )
    result = app.test_cli_runner().invoke(args=["rules", "check", str(body)])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["level"] == "urgent"
    assert [f["rule_id"] for f in output["flags"]] == ["R_FEVER", "R_CONFUSION"]


def test_rules_check_reads_stdin_and_says_none_when_nothing_fires(app):
    body = json.dumps({"temperature": {"value": 37.9, "unit": "C"}, "spo2": 97})
    result = app.test_cli_runner().invoke(args=["rules", "check", "-"], input=body)
    assert json.loads(result.output) == {"level": "none", "threshold_version": 0, "flags": []}


def test_rules_check_uses_a_teams_thresholds(app, client, make_team):
    team = make_team()
    put(client, team, {"fever_c": 38.3})
    body = json.dumps({"temperature": {"value": 38.2, "unit": "C"}})
    default = json.loads(
        app.test_cli_runner().invoke(args=["rules", "check", "-"], input=body).output
    )
    teams = app.test_cli_runner().invoke(
        args=["rules", "check", "-", "--team", str(team["team_id"])], input=body
    )
    assert default["level"] == "urgent"
    assert json.loads(teams.output) == {"level": "none", "threshold_version": 1, "flags": []}


def test_rules_check_rejects_a_bad_body_with_the_field(app):
    result = app.test_cli_runner().invoke(
        args=["rules", "check", "-"], input='{"temperature": {"value": 38, "unit": "F"}}'
    )
    assert result.exit_code == 2
    assert "temperature" in result.output
