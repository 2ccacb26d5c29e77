"""Every patient-scoped endpoint, taken from the URL map, refuses every caller who must not see.

A new endpoint with ``<patient_id>`` is picked up here without editing this file.
"""

import re

import pytest

from models.audit import AuditEvent
from models.patients import CaregiverLink, Patient


def patient_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if "patient_id" not in rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule))
    return routes


def fill(rule, patient_id):
    url = re.sub(r"<[^>]*patient_id>", str(patient_id), rule)
    return re.sub(r"<[^>]+>", "1", url)


def snapshot(in_db):
    """Everything a refused request must leave untouched (audit rows aside)."""

    def read(session):
        patients = [
            (p.patient_id, p.display_name, p.monitoring_days, p.status)
            for p in session.query(Patient)
        ]
        links = [(link.link_id, link.revoked_at) for link in session.query(CaregiverLink)]
        return patients, links

    return in_db(read)


@pytest.fixture
def world(make_team, make_patient, make_user, link_caregiver, client):
    """A target patient and everyone who must not see them."""
    target = make_patient()
    other_patient = make_patient()
    link_caregiver(target)  # a legitimate caregiver, to make sure links exist
    unlinked = link_caregiver(other_patient)
    revoked = link_caregiver(target, make_user("caregiver"))
    response = client.delete(
        f"/api/v1/patients/{target.patient_id}/caregivers/{revoked.extra['link_id']}",
        headers=target.headers,
    )
    assert response.status_code == 204
    other_clinician = make_team()["clinician"]
    return {
        "target": target,
        "callers": {
            "other patient": other_patient.headers,
            "unlinked caregiver": unlinked.headers,
            "revoked caregiver": revoked.headers,
            "other team's clinician": other_clinician.headers,
            "anonymous": {},
        },
    }


def test_the_matrix_covers_the_patient_endpoints(app):
    routes = patient_routes(app)
    assert ("GET", "/api/v1/patients/<int(max=2147483647):patient_id>") in routes
    assert len(routes) >= 7


@pytest.mark.parametrize(
    "caller",
    [
        "other patient",
        "unlinked caregiver",
        "revoked caregiver",
        "other team's clinician",
        "anonymous",
    ],
)
def test_every_patient_endpoint_refuses_callers_who_must_not_see(app, client, world, in_db, caller):
    target = world["target"]
    headers = world["callers"][caller]
    before = snapshot(in_db)
    for method, rule in patient_routes(app):
        url = fill(rule, target.patient_id)
        response = client.open(url, method=method, headers=headers, json={})
        expected = 401 if caller == "anonymous" else 404
        assert response.status_code == expected, (
            f"{caller}: {method} {rule} -> {response.status_code}"
        )
        assert "Alex" not in response.get_data(as_text=True)
    assert snapshot(in_db) == before


def test_admin_may_read_the_audit_trail_but_no_health_data(app, client, world, make_user):
    admin = make_user("admin")
    target = world["target"]
    for method, rule in patient_routes(app):
        url = fill(rule, target.patient_id)
        response = client.open(url, method=method, headers=admin.headers, json={})
        if rule.endswith("/audit"):
            assert response.status_code == 200
        else:
            assert response.status_code == 404, f"admin: {method} {rule}"


def test_refusals_are_audited(client, world, in_db):
    target = world["target"]
    client.get(f"/api/v1/patients/{target.patient_id}", headers=world["callers"]["other patient"])
    denied = in_db(
        lambda s: [
            (e.action, e.patient_id) for e in s.query(AuditEvent).filter_by(outcome="denied")
        ]
    )
    assert denied == [("patient.read", target.patient_id)]
