"""Pure evaluation of one report against the rule table.

---
No I/O, no clock, no mutable globals: the result depends only on the arguments and the constant
tables in `alerts.rules`. Missing data is insufficient, never zero or normal.
"""

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, localcontext
from types import MappingProxyType

from alerts.catalog import BINARY_CODES, NONE, SEVERITY_MAX, SEVERITY_MIN, SYMPTOM_CODES, level_rank
from alerts.rules import (
    COMBINATIONS,
    DEFAULT_THRESHOLDS,
    MEASURE_SCALES,
    RULES,
    RULES_BY_ID,
    SYMPTOM_SCALES,
)

_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)
_HUNDREDTH = Decimal("0.01")
_MICROSECONDS_PER_HOUR = 3_600_000_000
_KNOWN_CODES = frozenset(SYMPTOM_CODES)
_RULE_ORDER: Mapping[str, int] = MappingProxyType(
    {rule.rule_id: index for index, rule in enumerate(RULES)}
)
_COMPARE: Mapping[str, Callable[[Decimal | int, Decimal], bool]] = MappingProxyType(
    {">=": operator.ge, "<": operator.lt, ">": operator.gt}
)

ICE_BASELINE_MAX = 10


def _is_int(value: object) -> bool:
    # bool is an int subclass; True is not a score or a vital sign.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Ice:
    """Immune effector cell encephalopathy (ICE) score items [S3][S4]."""

    orientation: int
    naming: int
    commands: int
    writing: int
    attention: int

    def __post_init__(self) -> None:
        for name, maximum in (
            ("orientation", 4),
            ("naming", 3),
            ("commands", 1),
            ("writing", 1),
            ("attention", 1),
        ):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= maximum:
                raise ValueError(f"ICE {name} must be an integer 0-{maximum}, got {value!r}")

    @property
    def total(self) -> int:
        """Return the ICE score, 0-10 (10 is normal)."""
        return self.orientation + self.naming + self.commands + self.writing + self.attention


@dataclass(frozen=True)
class Observation:
    """One report: vitals, symptoms (an absent code is not assessed) and the caregiver ICE check."""

    recorded_at: datetime
    temperature_c: Decimal | None
    heart_rate: int | None
    systolic_bp: int | None
    diastolic_bp: int | None
    spo2: int | None
    symptoms: Mapping[str, int]
    ice: Ice | None
    antipyretic_last_6h: bool | None


@dataclass(frozen=True)
class History:
    """The patient's earlier reports (any order) and own ICE baseline, for history rules."""

    earlier: Sequence[Observation] = field(default=())
    ice_baseline: int | None = None


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with its version and the JSON-ready values that triggered it."""

    rule_id: str
    rule_version: int
    level: str
    inputs: Mapping[str, object]
    message_key: str


# --- Input checks ------------------------------------------------------------------------------


def _check_observation(obs: Observation, *, current: bool) -> None:
    if obs.recorded_at.tzinfo is None or obs.recorded_at.utcoffset() is None:
        raise ValueError("recorded_at must be timezone-aware")
    temperature = obs.temperature_c
    if temperature is not None and not (
        isinstance(temperature, Decimal) and temperature.is_finite()
    ):
        raise ValueError(f"temperature_c must be a finite Decimal, got {temperature!r}")
    for name in ("heart_rate", "systolic_bp", "diastolic_bp", "spo2"):
        value = getattr(obs, name)
        if value is not None and not _is_int(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    for code, severity in obs.symptoms.items():
        # An unknown code in the current report would otherwise be silently ignored.
        if current and code not in _KNOWN_CODES:
            raise ValueError(f"unknown symptom code: {code!r}")
        if not _is_int(severity) or not SEVERITY_MIN <= severity <= SEVERITY_MAX:
            raise ValueError(
                f"severity of {code!r} must be an integer {SEVERITY_MIN}-{SEVERITY_MAX}, "
                f"got {severity!r}"
            )


def _check_thresholds(thresholds: Mapping[str, Decimal]) -> None:
    missing = sorted(set(DEFAULT_THRESHOLDS) - set(thresholds))
    if missing:
        raise ValueError(f"thresholds missing: {', '.join(missing)}")
    for scale in MEASURE_SCALES:
        breakpoints = [thresholds[name] for name in scale.params]
        if breakpoints != sorted(breakpoints) or len(set(breakpoints)) != len(breakpoints):
            raise ValueError(f"thresholds {scale.params} must be strictly increasing")


# --- Helpers -----------------------------------------------------------------------------------


def _celsius(value: Decimal | None) -> Decimal | None:
    # Same resolution as units.to_celsius: compare at 0.01 degC, rounded half-up.
    if value is None:
        return None
    with localcontext(_CONTEXT):
        return value.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def _json(value: Decimal | int | None) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _hours(value: Decimal) -> timedelta:
    with localcontext(_CONTEXT):
        return timedelta(microseconds=int(value * _MICROSECONDS_PER_HOUR))


def _hours_between(start: datetime, end: datetime) -> Decimal:
    microseconds = (end - start) // timedelta(microseconds=1)
    with localcontext(_CONTEXT):
        # Rounded down, so that 23 h 59 min 59.999 s never reads as "24.00".
        return (Decimal(microseconds) / _MICROSECONDS_PER_HOUR).quantize(
            _HUNDREDTH, rounding=ROUND_DOWN
        )


def _threshold_inputs(rule_id: str, thresholds: Mapping[str, Decimal]) -> dict[str, object]:
    return {name: str(thresholds[name]) for name in RULES_BY_ID[rule_id].params}


# --- Rule families -----------------------------------------------------------------------------


def _measure_findings(
    measures: Mapping[str, Decimal | int | None], thresholds: Mapping[str, Decimal]
) -> dict[str, dict[str, object]]:
    fired: dict[str, dict[str, object]] = {}
    for scale in MEASURE_SCALES:
        value = measures[scale.measure]
        if value is None:
            continue
        breakpoints = [thresholds[name] for name in scale.params]
        locate = bisect_right if scale.at_breakpoint == "above" else bisect_left
        rule_id = scale.outcomes[locate(breakpoints, value)]
        if rule_id is not None:
            fired[rule_id] = {scale.measure: _json(value), **_threshold_inputs(rule_id, thresholds)}
    for combination in COMBINATIONS:
        values = [measures[condition.measure] for condition in combination.conditions]
        if any(value is None for value in values):
            continue
        if all(
            _COMPARE[condition.op](value, thresholds[condition.param])
            for condition, value in zip(combination.conditions, values, strict=True)
            if value is not None
        ):
            inputs: dict[str, object] = {
                condition.measure: _json(value)
                for condition, value in zip(combination.conditions, values, strict=True)
            }
            inputs.update(_threshold_inputs(combination.rule_id, thresholds))
            fired[combination.rule_id] = inputs
    return fired


def _symptom_findings(symptoms: Mapping[str, int]) -> dict[str, dict[str, object]]:
    fired: dict[str, dict[str, object]] = {}
    for scale in SYMPTOM_SCALES:
        assessed = {code: symptoms[code] for code in scale.codes if code in symptoms}
        if not assessed:
            continue
        worst = max(assessed.values())
        rule_id = scale.outcomes[bisect_right(scale.breakpoints, worst)]
        if rule_id is not None:
            fired[rule_id] = {code: sev for code, sev in assessed.items() if sev == worst}
    return fired


def _fever_returned(
    temperature: Decimal | None,
    obs: Observation,
    earlier: Sequence[Observation],
    thresholds: Mapping[str, Decimal],
) -> dict[str, object] | None:
    fever_c = thresholds["fever_c"]
    if temperature is None or temperature < fever_c:
        return None
    readings = [(o.recorded_at, t) for o in earlier if (t := _celsius(o.temperature_c)) is not None]
    febrile = [(at, t) for at, t in readings if t >= fever_c]
    if not febrile:
        return None  # a first fever is R_FEVER alone
    last_at, last_t = max(febrile)
    if obs.recorded_at - last_at < _hours(thresholds["fever_return_afebrile_hours"]):
        return None
    # Every temperature after the latest febrile one is afebrile; require at least one, since a
    # gap with no readings is missing data, not a documented fever-free period.
    afebrile_since = sum(1 for at, _ in readings if at > last_at)
    if afebrile_since == 0:
        return None
    return {
        "temperature_c": _json(temperature),
        **_threshold_inputs("R_FEVER_RETURNED", thresholds),
        "last_fever_recorded_at": last_at.isoformat(),
        "last_fever_temperature_c": _json(last_t),
        "hours_since_last_fever": str(_hours_between(last_at, obs.recorded_at)),
        "afebrile_readings_since": afebrile_since,
    }


def _symptom_worsening(
    obs: Observation, earlier: Sequence[Observation], thresholds: Mapping[str, Decimal]
) -> dict[str, object] | None:
    delta = thresholds["symptom_worsening_delta"]
    worsened: list[dict[str, object]] = []
    for code in SYMPTOM_CODES:
        # Yes/no signs have no severity to worsen (0 no, >= 1 yes); their own rules fire at >= 1.
        if code in BINARY_CODES or code not in obs.symptoms:
            continue
        recorded = [(o.recorded_at, o.symptoms[code]) for o in earlier if code in o.symptoms]
        if not recorded:
            continue
        latest_at = max(at for at, _ in recorded)
        # Two earlier reports at the same instant: compare with the lower one (errs to calling).
        previous = min(sev for at, sev in recorded if at == latest_at)
        if obs.symptoms[code] - previous >= delta:
            worsened.append(
                {
                    "code": code,
                    "severity": obs.symptoms[code],
                    "previous_severity": previous,
                    "previous_recorded_at": latest_at.isoformat(),
                }
            )
    if not worsened:
        return None
    return {**_threshold_inputs("R_SYMPTOM_WORSENING", thresholds), "worsened": worsened}


# --- Entry points ------------------------------------------------------------------------------


def evaluate(
    obs: Observation, history: History, thresholds: Mapping[str, Decimal]
) -> list[Finding]:
    """Return the findings of every rule that fires for one report, most severe first.

    ---
    Only earlier reports recorded strictly before `obs` count as history. Order: level rank
    descending, then rule table order. `thresholds` must hold every name of DEFAULT_THRESHOLDS
    (use `validate_thresholds`).
    """
    _check_observation(obs, current=True)
    for earlier_obs in history.earlier:
        _check_observation(earlier_obs, current=False)
    baseline = history.ice_baseline
    if baseline is not None and (not _is_int(baseline) or not 0 <= baseline <= ICE_BASELINE_MAX):
        raise ValueError(f"ice_baseline must be an integer 0-{ICE_BASELINE_MAX}")
    _check_thresholds(thresholds)

    temperature = _celsius(obs.temperature_c)
    ice_total = obs.ice.total if obs.ice is not None else None
    measures: dict[str, Decimal | int | None] = {
        "temperature_c": temperature,
        "systolic_bp": obs.systolic_bp,
        "spo2": obs.spo2,
        "heart_rate": obs.heart_rate,
        "ice_total": ice_total,
    }
    fired = _measure_findings(measures, thresholds)
    if temperature is None:
        fired["R_TEMP_MISSING"] = {"temperature_c": None}
    fired.update(_symptom_findings(obs.symptoms))

    earlier = [o for o in history.earlier if o.recorded_at < obs.recorded_at]
    returned = _fever_returned(temperature, obs, earlier, thresholds)
    if returned is not None:
        fired["R_FEVER_RETURNED"] = returned
    if ice_total is not None and baseline is not None and ice_total < baseline:
        fired["R_ICE_BELOW_BASELINE"] = {"ice_total": ice_total, "ice_baseline": baseline}
    worsening = _symptom_worsening(obs, earlier, thresholds)
    if worsening is not None:
        fired["R_SYMPTOM_WORSENING"] = worsening

    findings = [
        Finding(
            rule_id=rule_id,
            rule_version=RULES_BY_ID[rule_id].version,
            level=RULES_BY_ID[rule_id].level,
            inputs=inputs,
            message_key=RULES_BY_ID[rule_id].message_key,
        )
        for rule_id, inputs in fired.items()
    ]
    findings.sort(key=lambda f: (-level_rank(f.level), _RULE_ORDER[f.rule_id]))
    return findings


def report_level(findings: Sequence[Finding]) -> str:
    """Return the highest level among the findings, or "none"."""
    return max((f.level for f in findings), key=level_rank, default=NONE)
