"""Submitting reports: judged at once, exact at boundaries, idempotent, late data, both voices."""

import uuid
from datetime import timedelta

import pytest

from models.flags import Flag
from models.reports import Report
from tests.conftest import report_body


def submit(client, person, body, patient_id=None):
    return client.post(
        f"/api/v1/patients/{patient_id or person.patient_id}/reports",
        json=body,
        headers=person.headers,
    )


def count(in_db, model):
    return in_db(lambda s: s.query(model).count())


def rule_ids(response):
    return [flag["rule_id"] for flag in response.json["flags"]]


@pytest.mark.parametrize(
    "value, unit, fever",
    [
        (38.0, "C", True),
        (37.99, "C", False),
        (37.9, "C", False),
        (100.4, "F", True),
        (100.3, "F", False),
    ],
)
def test_fever_boundary_through_the_api(client, clock, make_patient, value, unit, fever):
    patient = make_patient()
    response = submit(
        client, patient, report_body(clock, temperature={"value": value, "unit": unit})
    )
    assert response.status_code == 201
    assert ("R_FEVER" in rule_ids(response)) is fever
    assert response.json["prompt"]["level"] == ("urgent" if fever else "none")
    assert response.json["prompt"]["action"] == ("call_care_team" if fever else "none")


def test_fahrenheit_is_converted_once_and_the_entered_unit_kept(client, clock, make_patient):
    patient = make_patient(temperature_unit="F")
    response = submit(
        client, patient, report_body(clock, temperature={"value": 100.4, "unit": "F"})
    )
    assert response.json["report"]["temperature"] == {"value": 100.4, "unit": "F", "celsius": 38.0}
    assert response.json["flags"][0]["inputs"]["temperature_c"] == "38.00"


@pytest.mark.parametrize(
    "temperature",
    [
        {"value": 38, "unit": "F"},
        {"value": 100.4, "unit": "C"},
        {"value": 29.9, "unit": "C"},
        {"value": 38.123, "unit": "C"},
        {"value": "NaN", "unit": "C"},
        {"value": 38, "unit": "K"},
    ],
)
def test_implausible_temperature_for_its_unit_is_rejected_not_read(
    client, clock, make_patient, in_db, temperature
):
    patient = make_patient()
    response = submit(client, patient, report_body(clock, temperature=temperature))
    assert response.status_code == 422
    assert "temperature" in response.json["errors"]["json"]
    assert count(in_db, Report) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("heart_rate", 19),
        ("heart_rate", 301),
        ("heart_rate", 80.5),
        ("spo2", 101),
        ("spo2", 39),
        ("systolic_bp", 39),
        ("diastolic_bp", 130),
        ("symptoms", [{"code": "hiccups", "severity": 1}]),
        ("symptoms", [{"code": "chills", "severity": 5}]),
        ("symptoms", [{"code": "chills", "severity": "2"}]),
        ("symptoms", [{"code": "chills", "severity": 1}, {"code": "chills", "severity": 2}]),
        ("ice", {"orientation": 5, "naming": 3, "commands": 1, "writing": 1, "attention": 1}),
        ("ice", {"orientation": 4, "naming": 3}),
        ("recorded_at", "2026-01-01T10:00:00"),
        ("client_report_id", "not-a-uuid"),
        ("note", "x" * 1001),
        ("mood", "fine"),
    ],
)
def test_bad_report_field_is_422_naming_it_and_stores_nothing(
    client, clock, make_patient, in_db, field, value
):
    patient = make_patient()
    response = submit(client, patient, report_body(clock, **{field: value}))
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert count(in_db, Report) == 0 and count(in_db, Flag) == 0


@pytest.mark.parametrize(
    "ahead, ok",
    [(timedelta(minutes=4, seconds=59), True), (timedelta(minutes=5, seconds=1), False)],
)
def test_recorded_at_may_run_ahead_only_by_the_clock_skew(client, clock, make_patient, ahead, ok):
    patient = make_patient()
    response = submit(
        client, patient, report_body(clock, recorded_at=(clock.now + ahead).isoformat())
    )
    assert response.status_code == (201 if ok else 422)
    if not ok:
        assert "recorded_at" in response.json["errors"]["json"]


def test_measurements_are_optional_and_missing_temperature_asks_for_one(
    client, clock, make_patient
):
    patient = make_patient(language="en")
    body = {
        "client_report_id": str(uuid.uuid4()),
        "recorded_at": clock.now.isoformat(),
        "symptoms": [{"code": "fatigue", "severity": 1}],
    }
    response = submit(client, patient, body)
    assert response.status_code == 201
    assert set(rule_ids(response)) == {"R_TEMP_MISSING", "R_FATIGUE_MILD"}
    prompt = response.json["prompt"]
    assert prompt["action"] == "recheck" and prompt["recheck_in_minutes"] == 60
    assert prompt["recheck_at"] is not None


def test_emergency_prompt_in_spanish_for_a_spanish_speaking_patient(client, clock, make_patient):
    patient = make_patient(language="es")
    response = submit(client, patient, report_body(clock, systolic_bp=75, diastolic_bp=40))
    prompt = response.json["prompt"]
    assert prompt["level"] == "emergency" and prompt["action"] == "call_emergency"
    assert "servicios de emergencia" in prompt["message"]
    assert rule_ids(response) == ["R_SEVERE_HYPOTENSION"]


def test_urgent_prompt_in_english_carries_the_24_7_number(client, clock, make_patient):
    patient = make_patient(language="en")
    response = submit(
        client, patient, report_body(clock, symptoms=[{"code": "confusion", "severity": 1}])
    )
    prompt = response.json["prompt"]
    assert prompt["phone"] == "+16175550100"
    assert "+16175550100" in prompt["message"] and "care team" in prompt["message"]


def test_fever_with_confusion_and_low_pressure_is_emergency_with_every_flag(
    client, clock, make_patient
):
    patient = make_patient()
    body = report_body(
        clock,
        temperature={"value": 38.6, "unit": "C"},
        systolic_bp=85,
        diastolic_bp=50,
        symptoms=[{"code": "confusion", "severity": 2}],
    )
    response = submit(client, patient, body)
    assert response.json["report"]["level"] == "emergency"
    assert {"R_FEVER", "R_HYPOTENSION", "R_FEVER_HYPOTENSION", "R_CONFUSION"} <= set(
        rule_ids(response)
    )
    assert rule_ids(response)[0] == "R_FEVER_HYPOTENSION"
    for flag in response.json["flags"]:
        assert flag["rule_version"] == 1 and flag["threshold_version"] == 0 and flag["inputs"]


def test_same_client_report_id_returns_the_first_answer_and_stores_once(
    client, clock, make_patient, in_db
):
    patient = make_patient()
    body = report_body(clock, temperature={"value": 38.4, "unit": "C"})
    first = submit(client, patient, body)
    clock.advance(minutes=3)
    again = submit(client, patient, body)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert count(in_db, Report) == 1 and count(in_db, Flag) == 1


def test_same_client_report_id_with_a_different_body_is_409(client, clock, make_patient, in_db):
    patient = make_patient()
    body = report_body(clock)
    submit(client, patient, body)
    response = submit(client, patient, body | {"heart_rate": 130})
    assert response.status_code == 409
    assert "client_report_id" in response.json["errors"]["json"]
    assert count(in_db, Report) == 1


def test_late_offline_report_is_judged_and_its_flag_says_how_old(client, clock, make_patient):
    patient = make_patient()
    recorded = clock.now - timedelta(hours=6)
    response = submit(
        client, patient, report_body(clock, recorded_at=recorded.isoformat(), spo2=91)
    )
    assert response.status_code == 201
    flag = response.json["flags"][0]
    assert flag["rule_id"] == "R_HYPOXIA"
    assert flag["data_age_seconds"] == 6 * 3600
    assert flag["data_recorded_at"].startswith(recorded.replace(tzinfo=None).isoformat()[:16])


def test_caregiver_and_patient_reports_are_both_kept(
    client, clock, make_patient, link_caregiver, in_db
):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    mine = submit(
        client, patient, report_body(clock, symptoms=[{"code": "confusion", "severity": 0}])
    )
    theirs = submit(
        client,
        caregiver,
        report_body(clock, symptoms=[{"code": "confusion", "severity": 2}]),
        patient.patient_id,
    )
    assert mine.json["report"]["reporter_role"] == "patient"
    assert theirs.json["report"]["reporter_role"] == "caregiver"
    assert "R_CONFUSION" in rule_ids(theirs) and "R_CONFUSION" not in rule_ids(mine)
    assert count(in_db, Report) == 2


def test_clinicians_do_not_submit_reports(client, clock, make_patient):
    patient = make_patient()
    nurse = patient.extra["team"]["clinician"]
    assert submit(client, nurse, report_body(clock), patient.patient_id).status_code == 403


def test_repeat_firing_joins_the_open_flag_but_the_patient_is_prompted_every_time(
    client, clock, make_patient, in_db
):
    patient = make_patient()
    first = submit(client, patient, report_body(clock, temperature={"value": 38.5, "unit": "C"}))
    clock.advance(hours=2)
    second = submit(client, patient, report_body(clock, temperature={"value": 38.7, "unit": "C"}))
    assert second.json["prompt"]["action"] == "call_care_team"
    fever = [f for f in second.json["flags"] if f["rule_id"] == "R_FEVER"][0]
    assert fever["flag_id"] == first.json["flags"][0]["flag_id"]
    assert fever["is_new"] is False and fever["occurrences"] == 2
    assert fever["inputs"]["temperature_c"] == "38.70"
    clock.advance(hours=12, seconds=1)
    third = submit(client, patient, report_body(clock, temperature={"value": 38.1, "unit": "C"}))
    assert third.json["flags"][0]["is_new"] is True
    assert count(in_db, Flag) == 2


@pytest.mark.parametrize(
    "after, returned", [(timedelta(hours=24), True), (timedelta(hours=23, minutes=59), False)]
)
def test_fever_returning_after_24_hours_afebrile_is_flagged(
    client, clock, make_patient, after, returned
):
    patient = make_patient()
    start = clock.now - timedelta(hours=30)
    fever = {"value": 38.5, "unit": "C"}
    submit(client, patient, report_body(clock, recorded_at=start.isoformat(), temperature=fever))
    submit(
        client, patient, report_body(clock, recorded_at=(start + timedelta(hours=6)).isoformat())
    )
    again = submit(
        client,
        patient,
        report_body(
            clock, recorded_at=(start + after).isoformat(), temperature={"value": 38.2, "unit": "C"}
        ),
    )
    assert ("R_FEVER_RETURNED" in rule_ids(again)) is returned


def ice(total_loss=0):
    return {"orientation": 4 - total_loss, "naming": 3, "commands": 1, "writing": 1, "attention": 1}


def test_ice_below_enrolment_baseline_is_flagged(client, clock, make_patient, link_caregiver):
    patient = make_patient(ice_baseline=10)
    caregiver = link_caregiver(patient)
    response = submit(client, caregiver, report_body(clock, ice=ice(1)), patient.patient_id)
    assert {"R_ICE_LOW", "R_ICE_BELOW_BASELINE"} <= set(rule_ids(response))
    assert response.json["report"]["ice"]["total"] == 9


def test_first_complete_ice_check_becomes_the_baseline(client, clock, make_patient, link_caregiver):
    patient = make_patient()  # no baseline at enrolment
    caregiver = link_caregiver(patient)
    first = submit(client, caregiver, report_body(clock, ice=ice(1)), patient.patient_id)
    assert "R_ICE_BELOW_BASELINE" not in rule_ids(first)
    record = client.get(f"/api/v1/patients/{patient.patient_id}", headers=patient.headers).json
    assert record["ice_baseline"] == 9
    clock.advance(hours=1)
    same = submit(client, caregiver, report_body(clock, ice=ice(1)), patient.patient_id)
    assert "R_ICE_BELOW_BASELINE" not in rule_ids(same)
    clock.advance(hours=1)
    worse = submit(client, caregiver, report_body(clock, ice=ice(2)), patient.patient_id)
    assert "R_ICE_BELOW_BASELINE" in rule_ids(worse)


@pytest.mark.parametrize(
    "before, after, worse", [(0, 1, False), (0, 2, True), (1, 3, True), (2, 3, False)]
)
def test_symptom_worsening_by_two_since_the_previous_report(
    client, clock, make_patient, before, after, worse
):
    patient = make_patient()
    submit(client, patient, report_body(clock, symptoms=[{"code": "fatigue", "severity": before}]))
    clock.advance(hours=4)
    response = submit(
        client, patient, report_body(clock, symptoms=[{"code": "fatigue", "severity": after}])
    )
    assert ("R_SYMPTOM_WORSENING" in rule_ids(response)) is worse


def test_day_since_infusion_is_counted_in_the_patients_time_zone(client, clock, make_patient):
    # 23:30 in Honolulu on the infusion date is already the next day in UTC.
    patient = make_patient(timezone="Pacific/Honolulu", infusion_date="2026-03-10")
    clock.now = clock.now.replace(year=2026, month=3, day=11, hour=12)
    late_evening = "2026-03-10T23:30:00-10:00"
    response = submit(client, patient, report_body(clock, recorded_at=late_evening))
    assert response.json["report"]["day_since_infusion"] == 0
    next_morning = "2026-03-11T00:30:00-10:00"
    assert (
        submit(client, patient, report_body(clock, recorded_at=next_morning)).json["report"][
            "day_since_infusion"
        ]
        == 1
    )


def test_reports_are_listed_newest_first_and_filtered_by_time(
    client, clock, make_patient, link_caregiver
):
    patient = make_patient()
    caregiver = link_caregiver(patient)
    times = [clock.now - timedelta(hours=h) for h in (5, 3, 1)]
    for at in times:
        submit(client, patient, report_body(clock, recorded_at=at.isoformat()))
    listed = client.get(f"/api/v1/patients/{patient.patient_id}/reports", headers=caregiver.headers)
    assert listed.status_code == 200
    assert [r["recorded_at"][:19] for r in listed.json] == [
        t.replace(tzinfo=None).isoformat()[:19] for t in reversed(times)
    ]
    since = (clock.now - timedelta(hours=4)).isoformat()
    filtered = client.get(
        f"/api/v1/patients/{patient.patient_id}/reports",
        query_string={"since": since},
        headers=caregiver.headers,
    )
    assert len(filtered.json) == 2


def test_one_report_is_read_back_with_its_flags_and_prompt(client, clock, make_patient):
    patient = make_patient()
    posted = submit(client, patient, report_body(clock, heart_rate=125))
    report_id = posted.json["report"]["report_id"]
    got = client.get(
        f"/api/v1/patients/{patient.patient_id}/reports/{report_id}", headers=patient.headers
    )
    assert got.json == posted.json
    other = make_patient()
    assert (
        client.get(
            f"/api/v1/patients/{other.patient_id}/reports/{report_id}", headers=other.headers
        ).status_code
        == 404
    )


def test_daily_summary_takes_the_worst_of_each_day(client, clock, make_patient):
    patient = make_patient(
        infusion_date=(clock.now - timedelta(days=2)).astimezone().date().isoformat(),
        timezone="UTC",
    )
    day2 = clock.now.replace(hour=1, minute=0, second=0)
    clock.now = day2 + timedelta(hours=10)
    submit(
        client,
        patient,
        report_body(
            clock,
            recorded_at=day2.isoformat(),
            temperature={"value": 38.1, "unit": "C"},
            spo2=95,
            symptoms=[{"code": "fatigue", "severity": 1}],
        ),
    )
    submit(
        client,
        patient,
        report_body(
            clock,
            recorded_at=(day2 + timedelta(hours=6)).isoformat(),
            spo2=93,
            heart_rate=110,
            symptoms=[{"code": "fatigue", "severity": 3}, {"code": "headache", "severity": 1}],
        ),
    )
    response = client.get(
        f"/api/v1/patients/{patient.patient_id}/daily-summary", headers=patient.headers
    )
    assert response.status_code == 200
    (day,) = response.json
    assert day["day"] == 2 and day["reports"] == 2 and day["level"] == "urgent"
    assert (
        day["max_temperature_c"] == 38.1 and day["min_spo2"] == 93 and day["max_heart_rate"] == 110
    )
    assert day["min_systolic_bp"] == 120 and day["min_ice_total"] is None
    assert day["symptoms"] == {"fatigue": 3, "headache": 1}
