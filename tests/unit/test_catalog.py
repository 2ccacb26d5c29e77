"""Symptom catalog (clinical reference, section 4) and alert levels."""

import pytest

from alerts.catalog import (
    BINARY_CODES,
    LEVELS,
    NONE,
    SEVERITY_MAX,
    SEVERITY_MIN,
    SYMPTOM_CODES,
    SYMPTOM_LABELS,
    level_rank,
)
from alerts.evaluate import History, evaluate
from alerts.rules import DEFAULT_THRESHOLDS

# Section 4, table order, written out by hand.
SECTION_4_CODES = [
    "chills",
    "shortness_of_breath",
    "fast_heartbeat",
    "dizziness",
    "fainting",
    "headache",
    "nausea",
    "vomiting",
    "diarrhea",
    "fatigue",
    "muscle_joint_pain",
    "decreased_appetite",
    "confusion",
    "speech_difficulty",
    "personality_change",
    "handwriting_change",
    "decreased_consciousness",
    "seizure",
    "tremor",
    "limb_weakness",
    "trouble_concentrating",
    "memory_problems",
    "facial_weakness",
    "slow_movement_stiffness",
    "numbness_tingling",
    "walking_difficulty",
    "cough",
    "sore_throat",
    "painful_urination",
    "bruising",
    "bleeding",
    "chest_pain",
    "reduced_urine",
    "rash",
    "swelling",
    "vision_change",
]


def test_catalog_holds_exactly_the_section_4_codes_in_table_order():
    assert list(SYMPTOM_CODES) == SECTION_4_CODES


def test_severity_scale_is_0_to_4():
    assert (SEVERITY_MIN, SEVERITY_MAX) == (0, 4)


def test_binary_codes_are_seizure_and_fainting():
    assert frozenset({"seizure", "fainting"}) == BINARY_CODES


def test_every_code_has_an_english_and_a_spanish_label():
    assert set(SYMPTOM_LABELS) == set(SYMPTOM_CODES)
    for code, labels in SYMPTOM_LABELS.items():
        assert set(labels) == {"en", "es"}, code
        assert labels["en"].strip() and labels["es"].strip(), code
        assert labels["en"] != labels["es"], code


def test_levels_are_ordered_from_least_to_most_severe():
    assert LEVELS == ("watch", "urgent", "emergency")
    assert NONE == "none"


@pytest.mark.parametrize(
    ("level", "rank"), [("none", 0), ("watch", 1), ("urgent", 2), ("emergency", 3)]
)
def test_level_rank(level, rank):
    assert level_rank(level) == rank


@pytest.mark.parametrize("level", ["", "Urgent", "critical", "high"])
def test_level_rank_rejects_an_unknown_level(level):
    with pytest.raises(ValueError):
        level_rank(level)


@pytest.mark.parametrize("code", SECTION_4_CODES)
def test_every_catalog_code_is_covered_by_a_rule(make_observation, code):
    findings = evaluate(
        make_observation(symptoms={code: SEVERITY_MAX}), History(), DEFAULT_THRESHOLDS
    )
    assert len(findings) == 1
    assert findings[0].inputs == {code: SEVERITY_MAX}


def test_reduced_urine_of_1_fires_nothing_because_r_urine_low_starts_at_2(fired):
    # Documented behaviour: section 6 sets R_URINE_LOW at reduced_urine >= 2 and gives no
    # watch band, so a mild report is stored but raises no flag.
    assert fired(symptoms={"reduced_urine": 1}) == []
    assert fired(symptoms={"reduced_urine": 2}) == ["R_URINE_LOW"]
