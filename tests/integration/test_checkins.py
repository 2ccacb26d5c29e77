"""Check-in reminders across time zones and daylight-saving changes; silence reaches the team."""

from datetime import UTC, date, datetime, timedelta

import pytest

from alerts import jobs
from alerts.checkins import monitoring_end, next_checkin, previous_checkin
from models.flags import Flag
from models.outbox import OutboxMessage
from models.patients import Patient
from tests.conftest import report_body


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "after, expected",
    [
        # New York springs forward on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 UTC after.
        (utc(2026, 3, 7, 12), utc(2026, 3, 7, 14)),
        (utc(2026, 3, 8, 12), utc(2026, 3, 8, 13)),
        # ...and falls back on 2026-11-01: 09:00 local is 13:00 UTC before, 14:00 UTC after.
        (utc(2026, 10, 31, 12), utc(2026, 10, 31, 13)),
        (utc(2026, 11, 1, 12), utc(2026, 11, 1, 14)),
    ],
)
def test_nine_oclock_stays_nine_oclock_local_across_daylight_saving(after, expected):
    assert next_checkin(["09:00"], "America/New_York", after) == expected


def test_check_in_times_follow_each_patients_zone():
    after = utc(2026, 6, 1, 0, 30)
    assert next_checkin(["09:00", "21:00"], "Asia/Tokyo", after) == utc(2026, 6, 1, 12)  # 21:00 JST
    assert next_checkin(["09:00", "21:00"], "America/Los_Angeles", after) == utc(
        2026, 6, 1, 4
    )  # 21:00 PDT
    assert next_checkin(["09:00"], "Europe/Madrid", utc(2026, 6, 1, 7)) == utc(
        2026, 6, 2, 7
    )  # strictly after


def test_previous_checkin_is_strictly_before():
    assert previous_checkin(["09:00", "21:00"], "UTC", utc(2026, 6, 1, 9)) == utc(2026, 5, 31, 21)


def test_monitoring_ends_at_local_midnight_after_the_last_day():
    assert monitoring_end(date(2026, 3, 1), 28, "America/New_York") == datetime(
        2026, 3, 30, 4, tzinfo=UTC
    )


def reminders(in_db):
    return in_db(
        lambda s: [
            (r.kind, r.recipient) for r in s.query(OutboxMessage).order_by(OutboxMessage.outbox_id)
        ]
    )


def slot_of(in_db, patient):
    return in_db(lambda s: s.get(Patient, patient.patient_id).checkin_slot_at)


def test_silent_patient_climbs_the_ladder_to_the_team(
    client, clock, make_patient, link_caregiver, sessions, in_db
):
    patient = make_patient(timezone="Europe/Madrid", infusion_date=clock.now.date().isoformat())
    caregiver = link_caregiver(patient)
    client.post(
        f"/api/v1/teams/{patient.extra['team']['team_id']}/notification-targets",
        json={"channel": "email", "label": "nurses", "address": "nurses@example.org"},
        headers=patient.extra["team"]["clinician"].headers,
    )
    slot = slot_of(in_db, patient)
    assert jobs.checkin_sweep(sessions, slot - timedelta(seconds=1)) == {}
    assert jobs.checkin_sweep(sessions, slot) == {"patient_reminded": 1}
    assert jobs.checkin_sweep(sessions, slot + timedelta(minutes=29)) == {}
    assert jobs.checkin_sweep(sessions, slot + timedelta(minutes=30)) == {"caregivers_reminded": 1}
    assert jobs.checkin_sweep(sessions, slot + timedelta(minutes=60)) == {"team_notified": 1}
    assert reminders(in_db) == [
        ("reminder", f"patient {patient.patient_id}"),
        ("reminder", f"caregiver {caregiver.user_id}"),
        ("missed_checkin", "nurses"),
    ]
    flags = in_db(lambda s: [(f.rule_id, f.level, f.status) for f in s.query(Flag)])
    assert flags == [("R_MISSED_CHECKIN", "urgent", "open")]
    assert slot_of(in_db, patient) > slot


def test_a_report_stops_the_ladder(client, clock, make_patient, link_caregiver, sessions, in_db):
    patient = make_patient(infusion_date=clock.now.date().isoformat())
    link_caregiver(patient)
    slot = slot_of(in_db, patient)
    assert jobs.checkin_sweep(sessions, slot) == {"patient_reminded": 1}
    clock.now = slot + timedelta(minutes=10)
    assert (
        client.post(
            f"/api/v1/patients/{patient.patient_id}/reports",
            json=report_body(clock),
            headers=patient.headers,
        ).status_code
        == 201
    )
    assert jobs.checkin_sweep(sessions, slot + timedelta(minutes=30)) == {"checked_in": 1}
    assert len(reminders(in_db)) == 1


def test_report_before_the_checkin_time_counts(client, clock, make_patient, sessions, in_db):
    patient = make_patient()
    slot = slot_of(in_db, patient)
    clock.now = slot - timedelta(minutes=20)
    client.post(
        f"/api/v1/patients/{patient.patient_id}/reports",
        json=report_body(clock),
        headers=patient.headers,
    )
    assert jobs.checkin_sweep(sessions, slot) == {"checked_in": 1}
    assert reminders(in_db) == []


def test_missed_checkin_after_the_high_risk_days_reminds_but_does_not_flag(
    client, clock, make_patient, sessions, in_db
):
    patient = make_patient(
        infusion_date=(clock.now - timedelta(days=20)).date().isoformat(), timezone="UTC"
    )
    slot = slot_of(in_db, patient)
    for minutes in (0, 30, 60):
        jobs.checkin_sweep(sessions, slot + timedelta(minutes=minutes))
    assert in_db(lambda s: s.query(Flag).count()) == 0
    assert [kind for kind, _ in reminders(in_db)] == ["reminder"]  # no caregivers linked


def test_window_end_completes_the_patient_and_reports_are_still_judged(
    client, clock, make_patient, sessions, in_db
):
    patient = make_patient(
        infusion_date=(clock.now - timedelta(days=28)).date().isoformat(),
        timezone="UTC",
        monitoring_days=28,
    )
    ends = in_db(lambda s: s.get(Patient, patient.patient_id).monitoring_ends_at)
    assert jobs.end_monitoring_windows(sessions, ends - timedelta(seconds=1)) == {}
    assert jobs.end_monitoring_windows(sessions, ends) == {"completed": 1}
    record = client.get(f"/api/v1/patients/{patient.patient_id}", headers=patient.headers).json
    assert record["status"] == "completed"
    clock.now = ends + timedelta(hours=1)
    late = client.post(
        f"/api/v1/patients/{patient.patient_id}/reports",
        json=report_body(clock, temperature={"value": 38.4, "unit": "C"}),
        headers=patient.headers,
    )
    assert late.status_code == 201 and late.json["prompt"]["action"] == "call_care_team"
    assert jobs.checkin_sweep(sessions, ends + timedelta(days=1)) == {}


def test_a_broken_patient_does_not_stop_the_sweep(client, clock, make_patient, sessions, in_db):
    broken, healthy = make_patient(), make_patient()

    def corrupt(session):
        patient = session.get(Patient, broken.patient_id)
        patient.timezone = "Not/AZone"

    in_db(corrupt)
    slot = max(slot_of(in_db, broken), slot_of(in_db, healthy))
    counts = jobs.checkin_sweep(sessions, slot)
    assert counts == {"failed": 1, "patient_reminded": 1}


def test_a_failure_after_a_missed_checkin_in_the_batch_still_alerts_once(
    client, clock, make_patient, sessions, in_db
):
    """The batch fails, is redone item by item; the good patient's alert is queued exactly once."""
    team_patient = make_patient(infusion_date=clock.now.date().isoformat())
    team = team_patient.extra["team"]
    client.post(
        f"/api/v1/teams/{team['team_id']}/notification-targets",
        json={"channel": "email", "label": "nurses", "address": "nurses@example.org"},
        headers=team["clinician"].headers,
    )
    broken = make_patient(team)
    slot = slot_of(in_db, team_patient)

    def prepare(session):
        for pid, stage in ((team_patient.patient_id, 2), (broken.patient_id, 2)):
            patient = session.get(Patient, pid)
            patient.checkin_stage, patient.checkin_slot_at, patient.next_checkin_action_at = (
                stage,
                slot,
                slot,
            )
        session.get(Patient, broken.patient_id).timezone = "Not/AZone"

    in_db(prepare)
    counts = jobs.checkin_sweep(sessions, slot + timedelta(hours=1))
    assert counts == {"failed": 1, "team_notified": 1}
    assert reminders(in_db) == [("missed_checkin", "nurses")]
    flags = in_db(lambda s: [(f.patient_id, f.rule_id) for f in s.query(Flag)])
    assert flags == [(team_patient.patient_id, "R_MISSED_CHECKIN")]
