"""Rule table and evaluation: every rule on both sides of each bound (reference, s. 5-6)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alerts.catalog import LEVELS, level_rank
from alerts.evaluate import Finding, History, Ice, evaluate, report_level
from alerts.rules import (
    DEFAULT_THRESHOLDS,
    RULES,
    RULES_BY_ID,
    ThresholdError,
    validate_thresholds,
)
from alerts.units import to_celsius

# The instant the conftest factory records reports at (checked below).
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)

# Written out from the reference, not derived from the implementation's tables.
EXPECTED_LEVELS = {
    "R_FEVER": "urgent",
    "R_FEVER_HYPOTENSION": "emergency",
    "R_FEVER_HYPOXIA": "emergency",
    "R_HYPOTENSION": "urgent",
    "R_SEVERE_HYPOTENSION": "emergency",
    "R_HYPOXIA": "urgent",
    "R_SEVERE_HYPOXIA": "emergency",
    "R_TACHYCARDIA": "urgent",
    "R_HR_ELEVATED": "watch",
    "R_LOW_TEMP": "watch",
    "R_TEMP_MISSING": "watch",
    "R_SEIZURE": "emergency",
    "R_UNAROUSABLE": "emergency",
    "R_DROWSY": "urgent",
    "R_CONFUSION": "urgent",
    "R_SPEECH": "urgent",
    "R_HANDWRITING": "urgent",
    "R_TREMOR": "urgent",
    "R_FOCAL_WEAKNESS": "emergency",
    "R_ICE_CRITICAL": "emergency",
    "R_ICE_LOW": "urgent",
    "R_COGNITION": "urgent",
    "R_COGNITION_MILD": "watch",
    "R_PERSONALITY": "urgent",
    "R_HEADACHE_SEVERE": "urgent",
    "R_HEADACHE_MILD": "watch",
    "R_FACIAL_WEAKNESS": "urgent",
    "R_NUMBNESS": "urgent",
    "R_NUMBNESS_MILD": "watch",
    "R_MOVEMENT": "urgent",
    "R_WALKING": "urgent",
    "R_WALKING_MILD": "watch",
    "R_BREATHING_SEVERE": "emergency",
    "R_BREATHING": "urgent",
    "R_CHILLS": "urgent",
    "R_PALPITATIONS": "urgent",
    "R_PALPITATIONS_MILD": "watch",
    "R_DIZZINESS": "urgent",
    "R_DIZZINESS_MILD": "watch",
    "R_FAINTING": "emergency",
    "R_GI_SEVERE": "urgent",
    "R_GI_MILD": "watch",
    "R_FATIGUE_SEVERE": "urgent",
    "R_FATIGUE_MILD": "watch",
    "R_PAIN_SEVERE": "urgent",
    "R_PAIN_MILD": "watch",
    "R_CHEST_PAIN": "emergency",
    "R_BRUISING": "urgent",
    "R_BLEEDING_SEVERE": "emergency",
    "R_BLEEDING": "urgent",
    "R_INFECTION_SIGN": "urgent",
    "R_INFECTION_MILD": "watch",
    "R_URINE_LOW": "urgent",
    "R_OTHER_SEVERE": "urgent",
    "R_OTHER_SYMPTOM": "watch",
    "R_FEVER_RETURNED": "urgent",
    "R_ICE_BELOW_BASELINE": "urgent",
    "R_SYMPTOM_WORSENING": "urgent",
    "R_MISSED_CHECKIN": "urgent",
}

# Rules whose row (or threshold) the reference marks "proposal" or "(unverified)".
EXPECTED_PROPOSALS = {
    "R_FEVER_HYPOXIA",  # its SpO2 < 92 cut-off is a proposal (section 5)
    "R_SEVERE_HYPOTENSION",
    "R_HYPOXIA",
    "R_HR_ELEVATED",
    "R_LOW_TEMP",
    "R_COGNITION",
    "R_COGNITION_MILD",
    "R_HEADACHE_MILD",
    "R_FAINTING",
    "R_CHEST_PAIN",
    "R_URINE_LOW",
    "R_FEVER_RETURNED",
    "R_ICE_BELOW_BASELINE",
    "R_SYMPTOM_WORSENING",
}


def ice_with_total(total):
    """Return an ICE check with the given total (items filled in order)."""
    items = {}
    remaining = total
    for name, maximum in (
        ("orientation", 4),
        ("naming", 3),
        ("commands", 1),
        ("writing", 1),
        ("attention", 1),
    ):
        items[name] = min(maximum, remaining)
        remaining -= items[name]
    assert remaining == 0
    return Ice(**items)


def test_report_factory_records_at_now(make_observation):
    assert make_observation().recorded_at == NOW


# --- The table itself --------------------------------------------------------------------------


def test_rule_table_holds_every_section_6_rule_then_the_history_rules_in_order():
    assert [rule.rule_id for rule in RULES] == list(EXPECTED_LEVELS)


@pytest.mark.parametrize(("rule_id", "level"), EXPECTED_LEVELS.items())
def test_rule_level_matches_the_reference(rule_id, level):
    assert RULES_BY_ID[rule_id].level == level


def test_rules_by_id_maps_each_rule_to_itself():
    assert dict(RULES_BY_ID) == {rule.rule_id: rule for rule in RULES}
    assert len(RULES_BY_ID) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_every_rule_has_a_source_a_summary_a_version_and_a_known_kind(rule):
    assert rule.source.strip()
    assert rule.clinician_summary.strip()
    assert rule.version >= 1
    assert rule.level in LEVELS
    assert rule.kind in {"vital", "symptom", "ice", "history", "missing", "schedule"}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_proposal_flag_is_set_exactly_where_the_reference_says_proposal(rule):
    assert rule.proposal is (rule.rule_id in EXPECTED_PROPOSALS)


def test_evaluate_never_raises_the_scheduled_missed_checkin_rule(make_observation):
    observation = make_observation(temperature_c=None, symptoms={})
    assert "R_MISSED_CHECKIN" not in [
        f.rule_id for f in evaluate(observation, History(), DEFAULT_THRESHOLDS)
    ]


def test_message_keys_are_unique():
    keys = [rule.message_key for rule in RULES]
    assert len(keys) == len(set(keys))


def test_rule_params_name_known_thresholds_and_every_threshold_is_read_by_a_rule():
    read = {param for rule in RULES for param in rule.params}
    assert read == set(DEFAULT_THRESHOLDS)


def test_default_thresholds_are_the_reference_values():
    assert dict(DEFAULT_THRESHOLDS) == {
        "fever_c": Decimal("38.0"),
        "low_temp_c": Decimal("36.0"),
        "sbp_urgent_below": Decimal("90"),
        "sbp_emergency_below": Decimal("80"),
        "spo2_urgent_below": Decimal("92"),
        "spo2_emergency_below": Decimal("90"),
        "hr_urgent_above": Decimal("120"),
        "hr_watch_above": Decimal("100"),
        "ice_urgent_below": Decimal("10"),
        "ice_emergency_below": Decimal("3"),
        "fever_return_afebrile_hours": Decimal("24"),
        "symptom_worsening_delta": Decimal("2"),
    }


# --- Vital signs: both sides of every bound ----------------------------------------------------

VITAL_BOUNDARIES = [
    # (field, value, rule ids expected, i.e. nothing else fires)
    ("temperature_c", Decimal("38.00"), ["R_FEVER"]),
    ("temperature_c", Decimal("37.99"), []),
    ("temperature_c", Decimal("41.50"), ["R_FEVER"]),
    ("temperature_c", Decimal("36.00"), []),
    ("temperature_c", Decimal("35.99"), ["R_LOW_TEMP"]),
    ("systolic_bp", 90, []),
    ("systolic_bp", 89, ["R_HYPOTENSION"]),
    ("systolic_bp", 80, ["R_HYPOTENSION"]),
    ("systolic_bp", 79, ["R_SEVERE_HYPOTENSION"]),
    ("systolic_bp", 50, ["R_SEVERE_HYPOTENSION"]),
    ("spo2", 92, []),
    ("spo2", 91, ["R_HYPOXIA"]),
    ("spo2", 90, ["R_HYPOXIA"]),
    ("spo2", 89, ["R_SEVERE_HYPOXIA"]),
    ("spo2", 70, ["R_SEVERE_HYPOXIA"]),
    ("heart_rate", 100, []),
    ("heart_rate", 101, ["R_HR_ELEVATED"]),
    ("heart_rate", 120, ["R_HR_ELEVATED"]),
    ("heart_rate", 121, ["R_TACHYCARDIA"]),
    ("heart_rate", 180, ["R_TACHYCARDIA"]),
    ("heart_rate", 40, []),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    VITAL_BOUNDARIES,
    ids=[f"{field}={value}" for field, value, _ in VITAL_BOUNDARIES],
)
def test_vital_sign_fires_only_the_rule_of_its_band(fired, field, value, expected):
    assert fired(**{field: value}) == expected


def test_fever_at_exactly_38_0_c_is_urgent(make_observation):
    findings = evaluate(
        make_observation(temperature_c=Decimal("38.0")), History(), DEFAULT_THRESHOLDS
    )
    assert [(f.rule_id, f.level) for f in findings] == [("R_FEVER", "urgent")]
    assert findings[0].inputs == {"temperature_c": "38.00", "fever_c": "38.0"}
    assert report_level(findings) == "urgent"


def test_temperature_of_37_99_c_is_not_fever(fired):
    assert fired(temperature_c=Decimal("37.99")) == []


def test_temperature_is_rounded_half_up_to_hundredths_before_comparing(fired):
    # 37.995 rounds to 38.00 (the unit rule of section 5), so it is a fever.
    assert fired(temperature_c=Decimal("37.995")) == ["R_FEVER"]
    assert fired(temperature_c=Decimal("37.994")) == []


@pytest.mark.parametrize(
    ("fahrenheit", "expected"),
    [("100.4", ["R_FEVER"]), ("100.3", [])],
)
def test_fahrenheit_reading_is_converted_then_compared(fired, fahrenheit, expected):
    celsius = to_celsius(Decimal(fahrenheit), "F")
    assert fired(temperature_c=celsius) == expected


def test_systolic_bp_75_fires_severe_hypotension_only(fired):
    assert fired(systolic_bp=75) == ["R_SEVERE_HYPOTENSION"]


def test_heart_rate_130_fires_tachycardia_only(fired):
    assert fired(heart_rate=130) == ["R_TACHYCARDIA"]


def test_vital_finding_records_value_and_threshold_used(make_observation):
    findings = evaluate(make_observation(systolic_bp=79), History(), DEFAULT_THRESHOLDS)
    assert findings[0].inputs == {"systolic_bp": 79, "sbp_emergency_below": "80"}


# --- Combination rules fire in addition to their parts -----------------------------------------

COMBINATION_CASES = [
    # (temperature, SBP, SpO2, rule ids expected)
    ("38.50", 85, 98, ["R_FEVER_HYPOTENSION", "R_FEVER", "R_HYPOTENSION"]),
    ("38.00", 89, 98, ["R_FEVER_HYPOTENSION", "R_FEVER", "R_HYPOTENSION"]),
    ("38.00", 90, 98, ["R_FEVER"]),
    ("37.99", 89, 98, ["R_HYPOTENSION"]),
    ("38.50", 75, 98, ["R_FEVER_HYPOTENSION", "R_SEVERE_HYPOTENSION", "R_FEVER"]),
    ("38.00", 120, 91, ["R_FEVER_HYPOXIA", "R_FEVER", "R_HYPOXIA"]),
    ("38.00", 120, 92, ["R_FEVER"]),
    ("37.99", 120, 91, ["R_HYPOXIA"]),
    ("39.00", 120, 85, ["R_FEVER_HYPOXIA", "R_SEVERE_HYPOXIA", "R_FEVER"]),
    (
        "38.00",
        85,
        91,
        ["R_FEVER_HYPOTENSION", "R_FEVER_HYPOXIA", "R_FEVER", "R_HYPOTENSION", "R_HYPOXIA"],
    ),
]


@pytest.mark.parametrize(("temperature", "sbp", "spo2", "expected"), COMBINATION_CASES)
def test_fever_combination_fires_with_its_parts(fired, temperature, sbp, spo2, expected):
    assert fired(temperature_c=Decimal(temperature), systolic_bp=sbp, spo2=spo2) == expected


def test_combination_records_fever_and_the_urgent_bound_it_used(make_observation):
    findings = evaluate(
        make_observation(temperature_c=Decimal("38.5"), systolic_bp=75),
        History(),
        DEFAULT_THRESHOLDS,
    )
    assert findings[0].rule_id == "R_FEVER_HYPOTENSION"
    assert findings[0].inputs == {
        "temperature_c": "38.50",
        "systolic_bp": 75,
        "fever_c": "38.0",
        "sbp_urgent_below": "90",
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"temperature_c": None, "systolic_bp": 85}, ["R_HYPOTENSION", "R_TEMP_MISSING"]),
        ({"temperature_c": None, "spo2": 91}, ["R_HYPOXIA", "R_TEMP_MISSING"]),
        ({"temperature_c": Decimal("38.5"), "systolic_bp": None}, ["R_FEVER"]),
        ({"temperature_c": Decimal("38.5"), "spo2": None}, ["R_FEVER"]),
    ],
)
def test_combination_needs_both_measurements(fired, overrides, expected):
    assert fired(**overrides) == expected


# --- Missing data ------------------------------------------------------------------------------


def test_report_without_any_data_fires_only_temperature_missing(fired):
    assert fired(
        temperature_c=None,
        heart_rate=None,
        systolic_bp=None,
        diastolic_bp=None,
        spo2=None,
        symptoms={},
        ice=None,
        antipyretic_last_6h=None,
    ) == ["R_TEMP_MISSING"]


def test_temperature_missing_is_watch_and_records_the_absence(make_observation):
    findings = evaluate(make_observation(temperature_c=None), History(), DEFAULT_THRESHOLDS)
    assert [(f.rule_id, f.level, f.inputs) for f in findings] == [
        ("R_TEMP_MISSING", "watch", {"temperature_c": None})
    ]


def test_temperature_present_never_fires_temperature_missing(fired):
    assert "R_TEMP_MISSING" not in fired(temperature_c=Decimal("37.00"))


@pytest.mark.parametrize("field", ["heart_rate", "systolic_bp", "spo2", "diastolic_bp"])
def test_missing_vital_sign_is_not_treated_as_zero(fired, field):
    # SBP or SpO2 of 0 would be an emergency; missing must fire nothing.
    assert fired(**{field: None}) == []


def test_symptom_not_assessed_fires_nothing(fired):
    assert fired(symptoms={}) == []


# --- Symptoms: every code at every severity ----------------------------------------------------


def _any(rule_id):
    return (None, rule_id, rule_id, rule_id, rule_id)


def _mild_1_2_severe_3(mild, severe):
    return (None, mild, mild, severe, severe)


def _mild_1_severe_2(mild, severe):
    return (None, mild, severe, severe, severe)


# code -> rule expected at severity 0, 1, 2, 3, 4 (section 6, written out by hand)
EXPECTED_BY_SEVERITY = {
    "chills": _any("R_CHILLS"),
    "shortness_of_breath": _mild_1_2_severe_3("R_BREATHING", "R_BREATHING_SEVERE"),
    "fast_heartbeat": _mild_1_severe_2("R_PALPITATIONS_MILD", "R_PALPITATIONS"),
    "dizziness": _mild_1_severe_2("R_DIZZINESS_MILD", "R_DIZZINESS"),
    "fainting": _any("R_FAINTING"),
    "headache": _mild_1_2_severe_3("R_HEADACHE_MILD", "R_HEADACHE_SEVERE"),
    "nausea": _mild_1_2_severe_3("R_GI_MILD", "R_GI_SEVERE"),
    "vomiting": _mild_1_2_severe_3("R_GI_MILD", "R_GI_SEVERE"),
    "diarrhea": _mild_1_2_severe_3("R_GI_MILD", "R_GI_SEVERE"),
    "fatigue": _mild_1_2_severe_3("R_FATIGUE_MILD", "R_FATIGUE_SEVERE"),
    "muscle_joint_pain": _mild_1_2_severe_3("R_PAIN_MILD", "R_PAIN_SEVERE"),
    "decreased_appetite": _mild_1_2_severe_3("R_OTHER_SYMPTOM", "R_OTHER_SEVERE"),
    "confusion": _any("R_CONFUSION"),
    "speech_difficulty": _any("R_SPEECH"),
    "personality_change": _any("R_PERSONALITY"),
    "handwriting_change": _any("R_HANDWRITING"),
    "decreased_consciousness": _mild_1_2_severe_3("R_DROWSY", "R_UNAROUSABLE"),
    "seizure": _any("R_SEIZURE"),
    "tremor": _any("R_TREMOR"),
    "limb_weakness": _any("R_FOCAL_WEAKNESS"),
    "trouble_concentrating": _mild_1_severe_2("R_COGNITION_MILD", "R_COGNITION"),
    "memory_problems": _mild_1_severe_2("R_COGNITION_MILD", "R_COGNITION"),
    "facial_weakness": _any("R_FACIAL_WEAKNESS"),
    "slow_movement_stiffness": _any("R_MOVEMENT"),
    "numbness_tingling": _mild_1_severe_2("R_NUMBNESS_MILD", "R_NUMBNESS"),
    "walking_difficulty": _mild_1_severe_2("R_WALKING_MILD", "R_WALKING"),
    "cough": _mild_1_severe_2("R_INFECTION_MILD", "R_INFECTION_SIGN"),
    "sore_throat": _mild_1_severe_2("R_INFECTION_MILD", "R_INFECTION_SIGN"),
    "painful_urination": _mild_1_severe_2("R_INFECTION_MILD", "R_INFECTION_SIGN"),
    "bruising": _any("R_BRUISING"),
    "bleeding": _mild_1_2_severe_3("R_BLEEDING", "R_BLEEDING_SEVERE"),
    "chest_pain": _any("R_CHEST_PAIN"),
    "reduced_urine": (None, None, "R_URINE_LOW", "R_URINE_LOW", "R_URINE_LOW"),
    "rash": _mild_1_2_severe_3("R_OTHER_SYMPTOM", "R_OTHER_SEVERE"),
    "swelling": _mild_1_2_severe_3("R_OTHER_SYMPTOM", "R_OTHER_SEVERE"),
    "vision_change": _mild_1_2_severe_3("R_OTHER_SYMPTOM", "R_OTHER_SEVERE"),
}

SYMPTOM_CASES = [
    (code, severity, expected[severity])
    for code, expected in EXPECTED_BY_SEVERITY.items()
    for severity in range(5)
]


@pytest.mark.parametrize(
    ("code", "severity", "expected"),
    SYMPTOM_CASES,
    ids=[f"{code}={severity}" for code, severity, _ in SYMPTOM_CASES],
)
def test_symptom_severity_fires_only_the_rule_of_its_band(
    make_observation, code, severity, expected
):
    findings = evaluate(make_observation(symptoms={code: severity}), History(), DEFAULT_THRESHOLDS)
    if expected is None:
        assert findings == []
    else:
        assert [(f.rule_id, f.level, f.inputs) for f in findings] == [
            (expected, EXPECTED_LEVELS[expected], {code: severity})
        ]


def test_symptom_table_above_covers_every_catalog_code():
    from alerts.catalog import SYMPTOM_CODES

    assert set(EXPECTED_BY_SEVERITY) == set(SYMPTOM_CODES)


@pytest.mark.parametrize(
    ("symptoms", "expected_rule", "expected_inputs"),
    [
        ({"nausea": 3, "vomiting": 1}, "R_GI_SEVERE", {"nausea": 3}),
        ({"nausea": 2, "diarrhea": 2, "vomiting": 0}, "R_GI_MILD", {"nausea": 2, "diarrhea": 2}),
        ({"vomiting": 4, "diarrhea": 4}, "R_GI_SEVERE", {"vomiting": 4, "diarrhea": 4}),
        ({"cough": 1, "painful_urination": 2}, "R_INFECTION_SIGN", {"painful_urination": 2}),
        ({"cough": 1, "sore_throat": 1}, "R_INFECTION_MILD", {"cough": 1, "sore_throat": 1}),
        ({"trouble_concentrating": 1, "memory_problems": 3}, "R_COGNITION", {"memory_problems": 3}),
        ({"rash": 3, "swelling": 2, "vision_change": 1}, "R_OTHER_SEVERE", {"rash": 3}),
        ({"decreased_appetite": 2, "rash": 0}, "R_OTHER_SYMPTOM", {"decreased_appetite": 2}),
    ],
)
def test_group_rule_fires_once_with_the_worst_codes(
    make_observation, symptoms, expected_rule, expected_inputs
):
    findings = evaluate(make_observation(symptoms=symptoms), History(), DEFAULT_THRESHOLDS)
    assert [(f.rule_id, f.inputs) for f in findings] == [(expected_rule, expected_inputs)]


def test_severity_zero_fires_nothing_for_every_code(fired):
    assert fired(symptoms=dict.fromkeys(EXPECTED_BY_SEVERITY, 0)) == []


# --- ICE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (10, []),
        (9, ["R_ICE_LOW"]),
        (7, ["R_ICE_LOW"]),
        (3, ["R_ICE_LOW"]),
        (2, ["R_ICE_CRITICAL"]),
        (0, ["R_ICE_CRITICAL"]),
    ],
)
def test_ice_total_fires_only_the_rule_of_its_band(fired, total, expected):
    assert fired(ice=ice_with_total(total)) == expected


def test_ice_finding_records_total_and_threshold(make_observation):
    findings = evaluate(make_observation(ice=ice_with_total(2)), History(), DEFAULT_THRESHOLDS)
    assert findings[0].inputs == {"ice_total": 2, "ice_emergency_below": "3"}


def test_ice_total_adds_the_five_items():
    assert Ice(orientation=3, naming=2, commands=1, writing=0, attention=1).total == 7


@pytest.mark.parametrize(
    "items",
    [
        {"orientation": 5},
        {"naming": 4},
        {"commands": 2},
        {"writing": -1},
        {"attention": 2},
        {"orientation": True},
    ],
)
def test_ice_item_outside_its_range_is_rejected(items):
    values = {"orientation": 4, "naming": 3, "commands": 1, "writing": 1, "attention": 1}
    values.update(items)
    with pytest.raises(ValueError):
        Ice(**values)


# --- Team thresholds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [("38.29", []), ("38.20", []), ("38.30", ["R_FEVER"])],
)
def test_team_fever_threshold_of_38_3_moves_the_bound(fired, temperature, expected):
    thresholds = validate_thresholds({"fever_c": "38.3"})
    assert fired(temperature_c=Decimal(temperature), thresholds=thresholds) == expected


def test_finding_records_the_team_threshold_used(make_observation):
    thresholds = validate_thresholds({"fever_c": "38.3"})
    findings = evaluate(make_observation(temperature_c=Decimal("38.3")), History(), thresholds)
    assert findings[0].inputs == {"temperature_c": "38.30", "fever_c": "38.3"}


@pytest.mark.parametrize(
    ("overrides", "field", "value", "expected"),
    [
        (
            {"sbp_urgent_below": 100, "sbp_emergency_below": 85},
            "systolic_bp",
            99,
            ["R_HYPOTENSION"],
        ),
        (
            {"sbp_urgent_below": 100, "sbp_emergency_below": 85},
            "systolic_bp",
            84,
            ["R_SEVERE_HYPOTENSION"],
        ),
        ({"spo2_urgent_below": 94}, "spo2", 93, ["R_HYPOXIA"]),
        ({"hr_watch_above": 110}, "heart_rate", 110, []),
        ({"hr_watch_above": 110}, "heart_rate", 111, ["R_HR_ELEVATED"]),
        ({"low_temp_c": "35.5"}, "temperature_c", Decimal("35.50"), []),
        ({"low_temp_c": "35.5"}, "temperature_c", Decimal("35.49"), ["R_LOW_TEMP"]),
        ({"ice_urgent_below": 9}, "ice", ice_with_total(9), []),
        ({"ice_urgent_below": 9}, "ice", ice_with_total(8), ["R_ICE_LOW"]),
    ],
)
def test_team_thresholds_apply_to_their_rules(fired, overrides, field, value, expected):
    thresholds = validate_thresholds(overrides)
    assert fired(thresholds=thresholds, **{field: value}) == expected


def test_validate_thresholds_without_overrides_returns_the_defaults():
    assert validate_thresholds({}) == dict(DEFAULT_THRESHOLDS)


@pytest.mark.parametrize("value", ["38.3", Decimal("38.3"), 38.3, "38.30"])
def test_validate_thresholds_accepts_a_good_override_and_keeps_other_defaults(value):
    merged = validate_thresholds({"fever_c": value})
    assert merged["fever_c"] == Decimal("38.3")
    assert {k: v for k, v in merged.items() if k != "fever_c"} == {
        k: v for k, v in DEFAULT_THRESHOLDS.items() if k != "fever_c"
    }


def test_validate_thresholds_stores_whole_numbers_without_fraction():
    assert str(validate_thresholds({"sbp_urgent_below": "95.0"})["sbp_urgent_below"]) == "95"


def test_validate_thresholds_rejects_an_unknown_name():
    with pytest.raises(ThresholdError) as caught:
        validate_thresholds({"fever": 38})
    assert caught.value.errors == {"fever": ["Unknown threshold."]}
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", ["abc", "", None, True, [38], "NaN", "Infinity", {"v": 38}])
def test_validate_thresholds_rejects_a_non_number(value):
    with pytest.raises(ThresholdError) as caught:
        validate_thresholds({"fever_c": value})
    assert caught.value.errors == {"fever_c": ["Not a valid number."]}


@pytest.mark.parametrize(
    ("name", "value", "is_accepted"),
    [
        ("fever_c", "37.5", True),
        ("fever_c", "37.49", False),
        ("fever_c", "39.0", True),
        ("fever_c", "39.01", False),
        ("low_temp_c", "35.0", True),
        ("low_temp_c", "34.99", False),
        ("sbp_urgent_below", 110, True),
        ("sbp_urgent_below", 111, False),
        ("sbp_emergency_below", 60, True),
        ("sbp_emergency_below", 59, False),
        ("spo2_urgent_below", 96, True),
        ("spo2_urgent_below", 97, False),
        ("spo2_emergency_below", 80, True),
        ("spo2_emergency_below", 79, False),
        ("hr_urgent_above", 160, True),
        ("hr_urgent_above", 161, False),
        ("hr_watch_above", 80, True),
        ("hr_watch_above", 79, False),
        ("ice_urgent_below", 10, True),
        ("ice_urgent_below", 11, False),
        ("ice_emergency_below", 1, True),
        ("ice_emergency_below", 0, False),
        ("fever_return_afebrile_hours", 6, True),
        ("fever_return_afebrile_hours", 5, False),
        ("fever_return_afebrile_hours", 168, True),
        ("fever_return_afebrile_hours", 169, False),
        ("symptom_worsening_delta", 1, True),
        ("symptom_worsening_delta", 0, False),
        ("symptom_worsening_delta", 4, True),
        ("symptom_worsening_delta", 5, False),
    ],
)
def test_validate_thresholds_enforces_sane_bounds(name, value, is_accepted):
    if is_accepted:
        assert validate_thresholds({name: value})[name] == Decimal(value)
    else:
        with pytest.raises(ThresholdError) as caught:
            validate_thresholds({name: value})
        assert list(caught.value.errors) == [name]
        assert caught.value.errors[name][0].startswith("Must be between")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("sbp_urgent_below", "89.5", "Must be a whole number."),
        ("symptom_worsening_delta", "1.5", "Must be a whole number."),
        ("fever_c", "38.255", "Must have at most 2 decimal places."),
    ],
)
def test_validate_thresholds_rejects_too_fine_values(name, value, message):
    with pytest.raises(ThresholdError) as caught:
        validate_thresholds({name: value})
    assert caught.value.errors == {name: [message]}


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"sbp_emergency_below": 90}, ["sbp_emergency_below"]),
        ({"sbp_urgent_below": 80}, ["sbp_urgent_below"]),
        (
            {"sbp_urgent_below": 85, "sbp_emergency_below": 86},
            ["sbp_emergency_below", "sbp_urgent_below"],
        ),
        ({"spo2_emergency_below": 92}, ["spo2_emergency_below"]),
        ({"hr_watch_above": 120}, ["hr_watch_above"]),
        ({"hr_urgent_above": 100}, ["hr_urgent_above"]),
        ({"low_temp_c": "37.5", "fever_c": "37.5"}, ["low_temp_c", "fever_c"]),
        (
            {"ice_urgent_below": 7, "ice_emergency_below": 7},
            ["ice_emergency_below", "ice_urgent_below"],
        ),
    ],
)
def test_validate_thresholds_rejects_an_incoherent_pair(overrides, fields):
    with pytest.raises(ThresholdError) as caught:
        validate_thresholds(overrides)
    assert sorted(caught.value.errors) == sorted(fields)
    assert all("must be lower than" in caught.value.errors[f][0] for f in fields)


def test_validate_thresholds_accepts_a_coherent_stricter_pair():
    merged = validate_thresholds({"sbp_urgent_below": 100, "sbp_emergency_below": 90})
    assert (merged["sbp_emergency_below"], merged["sbp_urgent_below"]) == (90, 100)


def test_validate_thresholds_reports_every_bad_field_at_once():
    with pytest.raises(ThresholdError) as caught:
        validate_thresholds({"fever_c": "45", "spo2_urgent_below": "x", "nope": 1})
    assert sorted(caught.value.errors) == ["fever_c", "nope", "spo2_urgent_below"]


def test_evaluate_rejects_thresholds_with_a_missing_name(make_observation):
    partial = {k: v for k, v in DEFAULT_THRESHOLDS.items() if k != "fever_c"}
    with pytest.raises(ValueError, match="fever_c"):
        evaluate(make_observation(), History(), partial)


def test_evaluate_rejects_unordered_thresholds_that_would_hide_a_band(make_observation):
    swapped = {**DEFAULT_THRESHOLDS, "sbp_emergency_below": Decimal("95")}
    with pytest.raises(ValueError, match="strictly increasing"):
        evaluate(make_observation(), History(), swapped)


# --- Input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"symptoms": {"confussion": 2}},
        {"symptoms": {"confusion": 5}},
        {"symptoms": {"confusion": -1}},
        {"symptoms": {"confusion": "2"}},
        {"symptoms": {"confusion": True}},
        {"recorded_at": NOW.replace(tzinfo=None)},
        {"temperature_c": 38.5},
        {"temperature_c": Decimal("NaN")},
        {"heart_rate": 120.5},
    ],
)
def test_evaluate_rejects_an_invalid_report_loudly(make_observation, overrides):
    with pytest.raises(ValueError):
        evaluate(make_observation(**overrides), History(), DEFAULT_THRESHOLDS)


def test_binary_sign_accepts_the_whole_0_to_4_scale(fired):
    assert fired(symptoms={"seizure": 4}) == ["R_SEIZURE"]


# --- Order and report level --------------------------------------------------------------------


def test_findings_are_ordered_by_level_then_rule_table_order(fired):
    ids = fired(
        temperature_c=Decimal("38.6"),
        systolic_bp=85,
        heart_rate=110,
        symptoms={"headache": 1, "seizure": 1, "chills": 2, "confusion": 1, "rash": 1},
    )
    assert ids == [
        "R_FEVER_HYPOTENSION",
        "R_SEIZURE",
        "R_FEVER",
        "R_HYPOTENSION",
        "R_CONFUSION",
        "R_CHILLS",
        "R_HR_ELEVATED",
        "R_HEADACHE_MILD",
        "R_OTHER_SYMPTOM",
    ]


def test_order_does_not_depend_on_symptom_insertion_order(fired):
    codes = {"rash": 1, "seizure": 1, "fatigue": 3, "cough": 1, "tremor": 2}
    reversed_codes = dict(reversed(list(codes.items())))
    assert fired(symptoms=codes) == fired(symptoms=reversed_codes)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], "none"),
        (["watch"], "watch"),
        (["watch", "urgent"], "urgent"),
        (["urgent", "emergency", "watch"], "emergency"),
        (["watch", "watch"], "watch"),
    ],
)
def test_report_level_is_the_highest_level(levels, expected):
    findings = [Finding(f"R_{i}", 1, level, {}, "k") for i, level in enumerate(levels)]
    assert report_level(findings) == expected


def test_report_level_rejects_an_unknown_level():
    with pytest.raises(ValueError):
        report_level([Finding("R_X", 1, "critical", {}, "x")])


def test_every_finding_is_json_serialisable_and_carries_its_rule_version(make_observation):
    earlier = [
        make_observation(
            recorded_at=NOW - timedelta(hours=30),
            temperature_c=Decimal("38.4"),
            symptoms={"fatigue": 0},
        ),
        make_observation(recorded_at=NOW - timedelta(hours=6), temperature_c=Decimal("37.0")),
    ]
    findings = evaluate(
        make_observation(
            temperature_c=Decimal("38.6"),
            systolic_bp=75,
            spo2=88,
            heart_rate=125,
            symptoms={"fatigue": 3, "nausea": 2, "vomiting": 2},
            ice=ice_with_total(5),
        ),
        History(earlier=earlier, ice_baseline=10),
        DEFAULT_THRESHOLDS,
    )
    assert {"R_FEVER_RETURNED", "R_ICE_BELOW_BASELINE", "R_SYMPTOM_WORSENING"} <= {
        f.rule_id for f in findings
    }
    for finding in findings:
        json.dumps(finding.inputs)
        assert finding.rule_version == RULES_BY_ID[finding.rule_id].version
        assert finding.message_key == RULES_BY_ID[finding.rule_id].message_key
    assert [level_rank(f.level) for f in findings] == sorted(
        (level_rank(f.level) for f in findings), reverse=True
    )


# --- History: fever returned -------------------------------------------------------------------


def _temps(make_observation, *readings):
    """Earlier reports from (hours or timedelta before NOW, temperature or None)."""
    return [
        make_observation(
            recorded_at=NOW - (ago if isinstance(ago, timedelta) else timedelta(hours=ago)),
            temperature_c=None if temp is None else Decimal(temp),
        )
        for ago, temp in readings
    ]


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # (hours before now, temperature)
        (((24, "38.5"), (12, "37.0")), True),
        (((timedelta(hours=23, minutes=59), "38.5"), (12, "37.0")), False),
        (((timedelta(hours=23, minutes=59, seconds=59), "38.5"), (12, "37.0")), False),
        (((48, "38.5"), (30, "38.1"), (12, "37.0")), True),
        (((48, "38.5"), (20, "38.1"), (12, "37.0")), False),
        (((48, "38.5"),), False),
        (((48, "38.5"), (12, None)), False),
        (((50, "37.0"), (48, "38.5")), False),
        (((48, "37.0"), (12, "36.8")), False),
        ((), False),
        (((48, "38.5"), (12, "35.5")), True),
    ],
    ids=[
        "24h-afebrile",
        "23h59m-afebrile",
        "23h59m59s-afebrile",
        "latest-fever-30h-ago",
        "latest-fever-20h-ago",
        "no-reading-since-fever",
        "only-missing-temperature-since-fever",
        "afebrile-reading-before-fever-only",
        "never-febrile-before",
        "no-history",
        "low-temperature-counts-as-afebrile",
    ],
)
def test_fever_returned_needs_a_documented_afebrile_period(
    fired, make_observation, readings, expected
):
    history = History(earlier=_temps(make_observation, *readings))
    ids = fired(temperature_c=Decimal("38.2"), history=history)
    assert ("R_FEVER_RETURNED" in ids) is expected
    assert "R_FEVER" in ids


def test_fever_returned_at_exactly_24_hours_records_its_inputs(make_observation):
    history = History(earlier=_temps(make_observation, (12, "37.0"), (24, "38.4"), (18, "37.2")))
    findings = evaluate(
        make_observation(temperature_c=Decimal("38.0")), history, DEFAULT_THRESHOLDS
    )
    returned = [f for f in findings if f.rule_id == "R_FEVER_RETURNED"]
    assert len(returned) == 1
    assert returned[0].level == "urgent"
    assert returned[0].inputs == {
        "temperature_c": "38.00",
        "fever_c": "38.0",
        "fever_return_afebrile_hours": "24",
        "last_fever_recorded_at": (NOW - timedelta(hours=24)).isoformat(),
        "last_fever_temperature_c": "38.40",
        "hours_since_last_fever": "24.00",
        "afebrile_readings_since": 2,
    }


def test_fever_returned_needs_a_fever_now(fired, make_observation):
    history = History(earlier=_temps(make_observation, (48, "38.5"), (12, "37.0")))
    assert fired(temperature_c=Decimal("37.99"), history=history) == []
    assert fired(temperature_c=None, history=history) == ["R_TEMP_MISSING"]


def test_fever_returned_ignores_reports_recorded_after_the_current_one(fired, make_observation):
    future_fever = _temps(make_observation, (-1, "39.0"))
    history = History(earlier=_temps(make_observation, (30, "38.5"), (10, "37.0")) + future_fever)
    assert "R_FEVER_RETURNED" in fired(temperature_c=Decimal("38.5"), history=history)
    # An afebrile reading after "now" cannot document the fever-free period either.
    only_future_afebrile = History(earlier=_temps(make_observation, (30, "38.5"), (-2, "37.0")))
    assert "R_FEVER_RETURNED" not in fired(
        temperature_c=Decimal("38.5"), history=only_future_afebrile
    )


def test_fever_returned_does_not_depend_on_history_order(fired, make_observation):
    earlier = _temps(make_observation, (12, "37.0"), (48, "38.5"), (30, "37.1"), (60, "38.9"))
    forward = fired(temperature_c=Decimal("38.5"), history=History(earlier=earlier))
    backward = fired(temperature_c=Decimal("38.5"), history=History(earlier=earlier[::-1]))
    assert forward == backward
    assert "R_FEVER_RETURNED" in forward


def test_fever_returned_uses_the_team_fever_threshold(fired, make_observation):
    # 38.2 six hours ago is a fever at 38.0 but not at the team's 38.3.
    history = History(earlier=_temps(make_observation, (30, "38.5"), (6, "38.2")))
    team = validate_thresholds({"fever_c": "38.3"})
    assert "R_FEVER_RETURNED" in fired(
        temperature_c=Decimal("38.4"), history=history, thresholds=team
    )
    assert "R_FEVER_RETURNED" not in fired(temperature_c=Decimal("38.4"), history=history)


@pytest.mark.parametrize(("hours", "expected"), [(48, False), (47, True)])
def test_fever_returned_uses_the_team_afebrile_hours(fired, make_observation, hours, expected):
    history = History(earlier=_temps(make_observation, (hours, "38.5"), (12, "37.0")))
    team = validate_thresholds({"fever_return_afebrile_hours": 48})
    ids = fired(temperature_c=Decimal("38.5"), history=history, thresholds=team)
    assert ("R_FEVER_RETURNED" in ids) is not expected


# --- History: ICE below the patient's baseline -------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "total", "expected"),
    [
        (10, 10, []),
        (10, 9, ["R_ICE_LOW", "R_ICE_BELOW_BASELINE"]),
        (8, 8, ["R_ICE_LOW"]),
        (8, 7, ["R_ICE_LOW", "R_ICE_BELOW_BASELINE"]),
        (10, 2, ["R_ICE_CRITICAL", "R_ICE_BELOW_BASELINE"]),
        (None, 9, ["R_ICE_LOW"]),
    ],
)
def test_ice_below_own_baseline_is_urgent(fired, baseline, total, expected):
    history = History(ice_baseline=baseline)
    assert fired(ice=ice_with_total(total), history=history) == expected


def test_ice_baseline_without_an_ice_check_fires_nothing(fired):
    assert fired(ice=None, history=History(ice_baseline=10)) == []


def test_ice_below_baseline_records_total_and_baseline(make_observation):
    findings = evaluate(
        make_observation(ice=ice_with_total(9)), History(ice_baseline=10), DEFAULT_THRESHOLDS
    )
    below = [f for f in findings if f.rule_id == "R_ICE_BELOW_BASELINE"]
    assert [(f.level, f.inputs) for f in below] == [
        ("urgent", {"ice_total": 9, "ice_baseline": 10})
    ]


@pytest.mark.parametrize("baseline", [11, -1, True])
def test_ice_baseline_outside_the_score_range_is_rejected(make_observation, baseline):
    with pytest.raises(ValueError):
        evaluate(make_observation(), History(ice_baseline=baseline), DEFAULT_THRESHOLDS)


# --- History: symptom worsening ----------------------------------------------------------------


def _symptom_reports(make_observation, *reports):
    """Earlier reports from (hours before NOW, symptoms)."""
    return [
        make_observation(recorded_at=NOW - timedelta(hours=hours), symptoms=symptoms)
        for hours, symptoms in reports
    ]


@pytest.mark.parametrize(
    ("reports", "now", "expected"),
    [
        (((24, {"fatigue": 1}),), {"fatigue": 3}, True),
        (((24, {"fatigue": 1}),), {"fatigue": 2}, False),
        (((24, {"headache": 0}),), {"headache": 2}, True),
        (((24, {"headache": 0}),), {"headache": 1}, False),
        (((24, {"fatigue": 3}),), {"fatigue": 1}, False),
        (((24, {"fatigue": 1}),), {}, False),
        (((24, {"nausea": 0}),), {"fatigue": 3}, False),
        # Compared with the most recent earlier report that recorded the code.
        (((48, {"fatigue": 0}), (24, {"fatigue": 2})), {"fatigue": 3}, False),
        (((48, {"fatigue": 2}), (24, {"fatigue": 0})), {"fatigue": 2}, True),
        (((48, {"fatigue": 1}), (12, {"nausea": 1})), {"fatigue": 3}, True),
        # Later reports and one at the same instant are not history.
        (((24, {"fatigue": 2}), (-1, {"fatigue": 0})), {"fatigue": 3}, False),
        (((24, {"fatigue": 2}), (0, {"fatigue": 0})), {"fatigue": 3}, False),
        ((), {"fatigue": 4}, False),
    ],
)
def test_symptom_worsening_fires_on_a_rise_of_two(fired, make_observation, reports, now, expected):
    history = History(earlier=_symptom_reports(make_observation, *reports))
    assert ("R_SYMPTOM_WORSENING" in fired(symptoms=now, history=history)) is expected


def test_symptom_worsening_is_one_urgent_finding_listing_each_worsened_code(make_observation):
    earlier = _symptom_reports(
        make_observation,
        (24, {"fatigue": 0, "headache": 1, "cough": 1}),
        (36, {"dizziness": 0}),
    )
    findings = evaluate(
        make_observation(symptoms={"headache": 3, "fatigue": 2, "cough": 2, "dizziness": 2}),
        History(earlier=earlier[::-1]),
        DEFAULT_THRESHOLDS,
    )
    worsening = [f for f in findings if f.rule_id == "R_SYMPTOM_WORSENING"]
    assert len(worsening) == 1
    assert worsening[0].level == "urgent"
    assert worsening[0].inputs == {
        "symptom_worsening_delta": "2",
        "worsened": [
            {
                "code": "dizziness",
                "severity": 2,
                "previous_severity": 0,
                "previous_recorded_at": (NOW - timedelta(hours=36)).isoformat(),
            },
            {
                "code": "headache",
                "severity": 3,
                "previous_severity": 1,
                "previous_recorded_at": (NOW - timedelta(hours=24)).isoformat(),
            },
            {
                "code": "fatigue",
                "severity": 2,
                "previous_severity": 0,
                "previous_recorded_at": (NOW - timedelta(hours=24)).isoformat(),
            },
        ],
    }


def test_symptom_worsening_uses_the_team_delta(fired, make_observation):
    history = History(earlier=_symptom_reports(make_observation, (24, {"fatigue": 1})))
    team = validate_thresholds({"symptom_worsening_delta": 3})
    assert "R_SYMPTOM_WORSENING" not in fired(
        symptoms={"fatigue": 3}, history=history, thresholds=team
    )
    assert "R_SYMPTOM_WORSENING" in fired(symptoms={"fatigue": 4}, history=history, thresholds=team)


def test_symptom_worsening_skips_yes_no_signs(fired, make_observation):
    # Seizure and fainting are yes/no: 1 -> 3 is still "yes", not a two-point rise.
    history = History(earlier=_symptom_reports(make_observation, (24, {"seizure": 1})))
    assert fired(symptoms={"seizure": 3}, history=history) == ["R_SEIZURE"]


def test_symptom_worsening_compares_with_the_lower_of_two_simultaneous_reports(
    fired, make_observation
):
    history = History(
        earlier=_symptom_reports(make_observation, (24, {"fatigue": 2}), (24, {"fatigue": 0}))
    )
    assert "R_SYMPTOM_WORSENING" in fired(symptoms={"fatigue": 2}, history=history)


def test_history_with_naive_datetime_is_rejected(make_observation):
    naive = make_observation(recorded_at=NOW.replace(tzinfo=None) - timedelta(hours=1))
    with pytest.raises(ValueError):
        evaluate(make_observation(), History(earlier=[naive]), DEFAULT_THRESHOLDS)


def test_no_history_fires_no_history_rule(fired):
    ids = fired(temperature_c=Decimal("39.0"), symptoms={"fatigue": 4}, ice=ice_with_total(4))
    assert not {"R_FEVER_RETURNED", "R_ICE_BELOW_BASELINE", "R_SYMPTOM_WORSENING"} & set(ids)
