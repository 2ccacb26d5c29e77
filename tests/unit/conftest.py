"""Factories for the pure rule-engine tests (no app, no database)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alerts.evaluate import History, Observation, evaluate
from alerts.rules import DEFAULT_THRESHOLDS

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_observation():
    """Return a factory for a report with normal vitals, no symptoms and no ICE check."""

    def make(**overrides):
        values = {
            "recorded_at": NOW,
            "temperature_c": Decimal("37.00"),
            "heart_rate": 80,
            "systolic_bp": 120,
            "diastolic_bp": 75,
            "spo2": 98,
            "symptoms": {},
            "ice": None,
            "antipyretic_last_6h": False,
        }
        values.update(overrides)
        return Observation(**values)

    return make


@pytest.fixture
def fired(make_observation):
    """Return a function: report overrides -> ids of the rules that fire, in result order."""

    def run(history=None, thresholds=DEFAULT_THRESHOLDS, **overrides):
        findings = evaluate(make_observation(**overrides), history or History(), thresholds)
        return [finding.rule_id for finding in findings]

    return run
