"""What the patient is told to do now, in English and Spanish (clinical reference, section 6)."""

from decimal import Decimal

import pytest

from alerts.evaluate import Finding, History, evaluate
from alerts.prompts import ACTIONS, HEADLINES, MESSAGES, Prompt, build_prompt
from alerts.rules import DEFAULT_THRESHOLDS, RULES, RULES_BY_ID

PHONE = "+1 555 010 0199"


def finding(rule_id):
    rule = RULES_BY_ID[rule_id]
    return Finding(rule.rule_id, rule.version, rule.level, {}, rule.message_key)


def test_actions_map_each_level_to_what_to_do():
    assert dict(ACTIONS) == {
        "emergency": "call_emergency",
        "urgent": "call_care_team",
        "watch": "recheck",
        "none": "none",
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_every_rule_has_an_english_and_a_spanish_message(rule):
    texts = MESSAGES[rule.message_key]
    assert set(texts) == {"en", "es"}
    assert texts["en"].strip() and texts["es"].strip()
    assert texts["en"] != texts["es"]


def test_message_table_has_no_text_without_a_rule():
    assert set(MESSAGES) == {rule.message_key for rule in RULES}


@pytest.mark.parametrize("level", ["emergency", "urgent", "watch", "none"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_level_has_a_headline_with_and_without_a_phone(level, language):
    with_phone, without_phone = HEADLINES[level][language]
    assert with_phone.strip() and without_phone.strip()
    assert "{phone}" not in without_phone
    if level != "none":
        assert "{phone}" in with_phone


def test_no_findings_thanks_the_patient_and_asks_nothing():
    prompt = build_prompt([], "en", PHONE)
    assert prompt == Prompt(
        level="none",
        action="none",
        message="Thank you. Nothing needs action now.",
        phone=None,
        recheck_in_minutes=None,
    )


def test_emergency_tells_to_call_emergency_services_and_show_the_wallet_card():
    prompt = build_prompt([finding("R_SEIZURE")], "en", PHONE)
    assert (prompt.level, prompt.action, prompt.phone) == ("emergency", "call_emergency", PHONE)
    assert prompt.recheck_in_minutes is None
    headline, advice = prompt.message.split("\n")
    assert headline.startswith("Call emergency services now.")
    assert "CAR T-cell therapy" in headline and "wallet card" in headline
    assert headline.endswith(f"Then tell your care team on {PHONE}.")
    assert advice == MESSAGES["seizure"]["en"]


def test_urgent_tells_to_call_the_care_team_now_on_its_number():
    prompt = build_prompt([finding("R_FEVER")], "en", PHONE)
    assert (prompt.level, prompt.action, prompt.phone) == ("urgent", "call_care_team", PHONE)
    assert prompt.recheck_in_minutes is None
    assert prompt.message.startswith(f"Call your care team now on {PHONE}.")
    assert "Do not wait for your next visit." in prompt.message
    assert "If nobody answers, go to the emergency department." in prompt.message


def test_watch_asks_for_a_recheck_in_60_minutes():
    prompt = build_prompt([finding("R_HEADACHE_MILD")], "en", PHONE)
    assert (prompt.level, prompt.action, prompt.recheck_in_minutes) == ("watch", "recheck", 60)
    assert "Check again in 1 hour" in prompt.message
    assert f"call your care team on {PHONE} if anything gets worse" in prompt.message


@pytest.mark.parametrize("phone", [None, ""])
def test_urgent_without_a_phone_still_says_to_call_the_care_team(phone):
    prompt = build_prompt([finding("R_FEVER")], "en", phone)
    assert prompt.phone is None
    assert prompt.message.startswith("Call your care team's 24-hour number now.")
    assert "None" not in prompt.message


def test_only_advice_of_the_top_level_is_shown_in_finding_order():
    findings = [finding("R_FEVER"), finding("R_CHILLS"), finding("R_HEADACHE_MILD")]
    prompt = build_prompt(findings, "en", PHONE)
    lines = prompt.message.split("\n")
    assert lines[1:] == [MESSAGES["fever"]["en"], MESSAGES["chills"]["en"]]
    assert MESSAGES["headache_mild"]["en"] not in prompt.message


def test_repeated_advice_is_shown_once():
    prompt = build_prompt([finding("R_FEVER"), finding("R_FEVER")], "en", PHONE)
    assert prompt.message.count(MESSAGES["fever"]["en"]) == 1


def test_spanish_prompt_uses_the_spanish_headline_and_advice():
    prompt = build_prompt([finding("R_FEVER_HYPOXIA"), finding("R_FEVER")], "es", PHONE)
    headline, advice = prompt.message.split("\n")
    assert headline.startswith("Llame ahora a los servicios de emergencia.")
    assert "CAR-T" in headline and PHONE in headline
    assert advice == MESSAGES["fever_hypoxia"]["es"]
    assert prompt.action == "call_emergency"


@pytest.mark.parametrize("language", ["fr", "", "EN", "es-MX"])
def test_unsupported_language_falls_back_to_english(language):
    findings = [finding("R_HYPOTENSION")]
    assert build_prompt(findings, language, PHONE) == build_prompt(findings, "en", PHONE)


def test_unknown_message_key_keeps_the_level_headline():
    stray = Finding("R_RETIRED", 1, "urgent", {}, "retired_rule")
    prompt = build_prompt([stray], "en", PHONE)
    assert prompt.level == "urgent"
    assert prompt.message == HEADLINES["urgent"]["en"][0].format(phone=PHONE)


def test_prompt_from_evaluated_report_matches_its_level(make_observation):
    findings = evaluate(
        make_observation(temperature_c=Decimal("38.5"), systolic_bp=85, heart_rate=105),
        History(),
        DEFAULT_THRESHOLDS,
    )
    prompt = build_prompt(findings, "es", PHONE)
    assert prompt.level == "emergency"
    assert prompt.message.split("\n")[1:] == [MESSAGES["fever_hypotension"]["es"]]
