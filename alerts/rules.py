"""The default rule table as data, and the care-team thresholds it reads (reference, section 6)."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext
from types import MappingProxyType
from typing import Literal

VITAL = "vital"
SYMPTOM = "symptom"
ICE = "ice"
HISTORY = "history"
MISSING = "missing"
SCHEDULE = "schedule"


@dataclass(frozen=True)
class Rule:
    """One alert rule: what fires, at which level, what the patient is told and why."""

    rule_id: str
    version: int
    level: str
    params: tuple[str, ...]
    message_key: str
    clinician_summary: str
    source: str
    proposal: bool
    kind: str


def _rule(
    rule_id: str,
    level: str,
    kind: str,
    summary: str,
    source: str,
    *,
    params: tuple[str, ...] = (),
    proposal: bool = False,
) -> Rule:
    # The message key is the rule id without its "R_" prefix, lower case (R_FEVER -> "fever").
    return Rule(
        rule_id=rule_id,
        version=1,
        level=level,
        params=params,
        message_key=rule_id.removeprefix("R_").lower(),
        clinician_summary=summary,
        source=source,
        proposal=proposal,
        kind=kind,
    )


# Section 6 order, then the history rules. Paired ids: first id, then second id.
RULES: tuple[Rule, ...] = (
    _rule(
        "R_FEVER",
        "urgent",
        VITAL,
        "Fever: temperature at or above fever_c.",
        "[S1][S14] ASTCT fever; Yescarta patient guide",
        params=("fever_c",),
    ),
    _rule(
        "R_FEVER_HYPOTENSION",
        "emergency",
        VITAL,
        "Fever with systolic BP below sbp_urgent_below (possible CRS grade >= 2).",
        "[S1][S2] ASTCT CRS grading; SBP < 90 = hypotension",
        params=("fever_c", "sbp_urgent_below"),
    ),
    # SpO2 < 92 % is itself a proposal (reference section 5), so this combination is flagged too.
    _rule(
        "R_FEVER_HYPOXIA",
        "emergency",
        VITAL,
        "Fever with SpO2 below spo2_urgent_below (possible CRS grade >= 2).",
        "[S1][S2] ASTCT CRS grading; SpO2 92% cut-off is a proposal",
        params=("fever_c", "spo2_urgent_below"),
        proposal=True,
    ),
    _rule(
        "R_HYPOTENSION",
        "urgent",
        VITAL,
        "Systolic BP below sbp_urgent_below.",
        "[S2][S38] SBP < 90 = hypotension; Dutch red flag",
        params=("sbp_urgent_below",),
    ),
    _rule(
        "R_SEVERE_HYPOTENSION",
        "emergency",
        VITAL,
        "Systolic BP below sbp_emergency_below.",
        "[S2][S38]; SBP < 80 emergency cut-off is a proposal",
        params=("sbp_emergency_below",),
        proposal=True,
    ),
    _rule(
        "R_HYPOXIA",
        "urgent",
        VITAL,
        "SpO2 below spo2_urgent_below.",
        "[S1] hypoxia is a CRS criterion; 92% is a proposal",
        params=("spo2_urgent_below",),
        proposal=True,
    ),
    _rule(
        "R_SEVERE_HYPOXIA",
        "emergency",
        VITAL,
        "SpO2 below spo2_emergency_below.",
        "[S1][S46] SpO2 < 90% sends home patients to the ED",
        params=("spo2_emergency_below",),
    ),
    _rule(
        "R_TACHYCARDIA",
        "urgent",
        VITAL,
        "Heart rate above hr_urgent_above.",
        "[S38] HR > 120 red flag; [S21] tachycardia is a key CRS sign",
        params=("hr_urgent_above",),
    ),
    _rule(
        "R_HR_ELEVATED",
        "watch",
        VITAL,
        "Heart rate above hr_watch_above.",
        "proposal (reference section 5: HR > 100 watch)",
        params=("hr_watch_above",),
        proposal=True,
    ),
    _rule(
        "R_LOW_TEMP",
        "watch",
        VITAL,
        "Temperature below low_temp_c.",
        "(unverified) proposal, reference section 5: < 36.0 C watch only",
        params=("low_temp_c",),
        proposal=True,
    ),
    _rule(
        "R_TEMP_MISSING",
        "watch",
        MISSING,
        "No temperature in this report.",
        "design: missing data is insufficient, never normal (reference section 6)",
    ),
    _rule(
        "R_SEIZURE",
        "emergency",
        SYMPTOM,
        "Seizure reported.",
        "[S3] ICANS >= grade 3 (seizure domain)",
    ),
    _rule(
        "R_UNAROUSABLE",
        "emergency",
        SYMPTOM,
        "Decreased consciousness >= 3 (wakes only to touch, or cannot be woken).",
        "[S3] ICANS consciousness domain; [S38] AVPU",
    ),
    _rule(
        "R_DROWSY",
        "urgent",
        SYMPTOM,
        "Decreased consciousness 1-2 (sleepy, wakes to voice).",
        "[S19] sleepiness; [S3] consciousness domain",
    ),
    _rule("R_CONFUSION", "urgent", SYMPTOM, "Confusion reported.", "[S14][S15][S16]"),
    _rule("R_SPEECH", "urgent", SYMPTOM, "Speech difficulty reported.", "[S19][S20]"),
    _rule("R_HANDWRITING", "urgent", SYMPTOM, "Handwriting change reported.", "[S19][S27]"),
    _rule("R_TREMOR", "urgent", SYMPTOM, "Tremor reported.", "[S16]"),
    _rule(
        "R_FOCAL_WEAKNESS",
        "emergency",
        SYMPTOM,
        "Limb weakness reported.",
        "[S3] ICANS grade 4 motor finding",
    ),
    _rule(
        "R_ICE_CRITICAL",
        "emergency",
        ICE,
        "ICE total below ice_emergency_below (0-2).",
        "[S3] ICE 0-2 = ICANS grade >= 3",
        params=("ice_emergency_below",),
    ),
    _rule(
        "R_ICE_LOW",
        "urgent",
        ICE,
        "ICE total below ice_urgent_below (3-9).",
        "[S3] ICE grading; [S38] ICE < 10 red flag",
        params=("ice_urgent_below",),
    ),
    _rule(
        "R_COGNITION",
        "urgent",
        SYMPTOM,
        "Trouble concentrating or memory problems >= 2.",
        "proposal",
        proposal=True,
    ),
    _rule(
        "R_COGNITION_MILD",
        "watch",
        SYMPTOM,
        "Trouble concentrating or memory problems = 1.",
        "proposal",
        proposal=True,
    ),
    _rule("R_PERSONALITY", "urgent", SYMPTOM, "Personality change reported.", "[S17][S31]"),
    _rule("R_HEADACHE_SEVERE", "urgent", SYMPTOM, "Headache >= 3.", "[S15]"),
    _rule("R_HEADACHE_MILD", "watch", SYMPTOM, "Headache 1-2.", "[S15]; proposal", proposal=True),
    _rule(
        "R_FACIAL_WEAKNESS",
        "urgent",
        SYMPTOM,
        "Facial weakness reported.",
        "[S17][S28] cilta-cel cranial nerve palsy",
    ),
    _rule("R_NUMBNESS", "urgent", SYMPTOM, "Numbness or tingling >= 2.", "GBS [S30][S52]"),
    _rule("R_NUMBNESS_MILD", "watch", SYMPTOM, "Numbness or tingling = 1.", "GBS [S30][S52]"),
    _rule(
        "R_MOVEMENT",
        "urgent",
        SYMPTOM,
        "Slow movement or stiffness reported.",
        "parkinsonism [S17][S30]",
    ),
    _rule("R_WALKING", "urgent", SYMPTOM, "Walking difficulty >= 2.", "[S17][S20]"),
    _rule("R_WALKING_MILD", "watch", SYMPTOM, "Walking difficulty = 1.", "[S17][S20]"),
    _rule("R_BREATHING_SEVERE", "emergency", SYMPTOM, "Shortness of breath >= 3.", "[S14][S15]"),
    _rule("R_BREATHING", "urgent", SYMPTOM, "Shortness of breath 1-2.", "[S14][S15]"),
    _rule("R_CHILLS", "urgent", SYMPTOM, "Chills reported.", "[S14][S16]"),
    _rule("R_PALPITATIONS", "urgent", SYMPTOM, "Fast heartbeat >= 2.", "[S14][S16]"),
    _rule("R_PALPITATIONS_MILD", "watch", SYMPTOM, "Fast heartbeat = 1.", "[S14][S16]"),
    _rule("R_DIZZINESS", "urgent", SYMPTOM, "Dizziness >= 2.", "[S14][S15]"),
    _rule("R_DIZZINESS_MILD", "watch", SYMPTOM, "Dizziness = 1.", "[S14][S15]"),
    _rule("R_FAINTING", "emergency", SYMPTOM, "Fainting reported.", "proposal", proposal=True),
    _rule("R_GI_SEVERE", "urgent", SYMPTOM, "Nausea, vomiting or diarrhea >= 3.", "[S14][S16]"),
    _rule("R_GI_MILD", "watch", SYMPTOM, "Nausea, vomiting or diarrhea 1-2.", "[S14][S16]"),
    _rule("R_FATIGUE_SEVERE", "urgent", SYMPTOM, "Fatigue >= 3.", "[S14][S16]"),
    _rule("R_FATIGUE_MILD", "watch", SYMPTOM, "Fatigue 1-2.", "[S14][S16]"),
    _rule("R_PAIN_SEVERE", "urgent", SYMPTOM, "Muscle or joint pain >= 3.", "[S15]"),
    _rule("R_PAIN_MILD", "watch", SYMPTOM, "Muscle or joint pain 1-2.", "[S15]"),
    _rule(
        "R_CHEST_PAIN",
        "emergency",
        SYMPTOM,
        "Chest pain reported.",
        "(unverified) general practice",
        proposal=True,
    ),
    _rule("R_BRUISING", "urgent", SYMPTOM, "Bruising reported.", "cytopenia [S34]"),
    _rule("R_BLEEDING_SEVERE", "emergency", SYMPTOM, "Bleeding >= 3.", "cytopenia [S34]"),
    _rule("R_BLEEDING", "urgent", SYMPTOM, "Bleeding 1-2.", "cytopenia [S34]"),
    _rule(
        "R_INFECTION_SIGN",
        "urgent",
        SYMPTOM,
        "Cough, sore throat or painful urination >= 2.",
        "[S12][S16] infection",
    ),
    _rule(
        "R_INFECTION_MILD",
        "watch",
        SYMPTOM,
        "Cough, sore throat or painful urination = 1.",
        "[S12][S16] infection",
    ),
    _rule(
        "R_URINE_LOW",
        "urgent",
        SYMPTOM,
        "Reduced urine >= 2.",
        "(unverified) TLS or dehydration",
        proposal=True,
    ),
    _rule(
        "R_OTHER_SEVERE",
        "urgent",
        SYMPTOM,
        "Decreased appetite, rash, swelling or vision change >= 3.",
        "catch-all for catalogued codes without a rule of their own (reference section 6)",
    ),
    _rule(
        "R_OTHER_SYMPTOM",
        "watch",
        SYMPTOM,
        "Decreased appetite, rash, swelling or vision change 1-2.",
        "catch-all for catalogued codes without a rule of their own (reference section 6)",
    ),
    _rule(
        "R_FEVER_RETURNED",
        "urgent",
        HISTORY,
        "Fever again after at least fever_return_afebrile_hours without fever.",
        "reference section 3 IEC-HS note [S33] (unverified pattern); history rule",
        params=("fever_c", "fever_return_afebrile_hours"),
        proposal=True,
    ),
    _rule(
        "R_ICE_BELOW_BASELINE",
        "urgent",
        HISTORY,
        "ICE total below the patient's own baseline.",
        "[S3][S38] ICE < 10 red flag, against own baseline",
        proposal=True,
    ),
    _rule(
        "R_SYMPTOM_WORSENING",
        "urgent",
        HISTORY,
        "Symptom severity up by at least symptom_worsening_delta since last recorded.",
        "[S40] PRO-CTCAE rise of >= 2 points",
        params=("symptom_worsening_delta",),
        proposal=True,
    ),
    # Raised by the check-in sweep (alerts/checkins.py), never by evaluate(): a silent patient
    # in the high-risk days is a signal too.
    _rule(
        "R_MISSED_CHECKIN",
        "urgent",
        SCHEDULE,
        "No report since the previous check-in; patient and caregivers were reminded.",
        "design (clinical reference section 6, history rules: missed check-in)",
    ),
)

RULES_BY_ID: Mapping[str, Rule] = MappingProxyType({rule.rule_id: rule for rule in RULES})


# --- Bands -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureScale:
    """Exclusive bands over one measured value, split at named thresholds.

    ---
    `params` are the breakpoints in ascending order; `outcomes[i]` is the rule that fires in band
    i (None: nothing), so there is one more outcome than breakpoints. `at_breakpoint` says which
    band a value exactly equal to a breakpoint falls in: "above" makes the thresholds ">=" for the
    upper band and "<" for the lower one ("_below" and fever names); "below" makes them ">" for
    the upper band ("_above" names).
    """

    measure: str
    params: tuple[str, ...]
    at_breakpoint: Literal["above", "below"]
    outcomes: tuple[str | None, ...]


@dataclass(frozen=True)
class SymptomScale:
    """Exclusive severity bands shared by one symptom code or a group of codes.

    ---
    Band i starts at `breakpoints[i - 1]` inclusive; the worst severity among `codes` selects the
    band, so only the most severe band fires for the group.
    """

    codes: tuple[str, ...]
    breakpoints: tuple[int, ...]
    outcomes: tuple[str | None, ...]


@dataclass(frozen=True)
class Condition:
    """One explicit comparison of a measured value with a named threshold."""

    measure: str
    op: Literal[">=", "<", ">"]
    param: str


@dataclass(frozen=True)
class Combination:
    """A rule that fires, in addition to its parts, when all its conditions hold."""

    rule_id: str
    conditions: tuple[Condition, ...]


MEASURE_SCALES: tuple[MeasureScale, ...] = (
    MeasureScale(
        "temperature_c", ("low_temp_c", "fever_c"), "above", ("R_LOW_TEMP", None, "R_FEVER")
    ),
    MeasureScale(
        "systolic_bp",
        ("sbp_emergency_below", "sbp_urgent_below"),
        "above",
        ("R_SEVERE_HYPOTENSION", "R_HYPOTENSION", None),
    ),
    MeasureScale(
        "spo2",
        ("spo2_emergency_below", "spo2_urgent_below"),
        "above",
        ("R_SEVERE_HYPOXIA", "R_HYPOXIA", None),
    ),
    MeasureScale(
        "heart_rate",
        ("hr_watch_above", "hr_urgent_above"),
        "below",
        (None, "R_HR_ELEVATED", "R_TACHYCARDIA"),
    ),
    MeasureScale(
        "ice_total",
        ("ice_emergency_below", "ice_urgent_below"),
        "above",
        ("R_ICE_CRITICAL", "R_ICE_LOW", None),
    ),
)

COMBINATIONS: tuple[Combination, ...] = (
    Combination(
        "R_FEVER_HYPOTENSION",
        (
            Condition("temperature_c", ">=", "fever_c"),
            Condition("systolic_bp", "<", "sbp_urgent_below"),
        ),
    ),
    Combination(
        "R_FEVER_HYPOXIA",
        (
            Condition("temperature_c", ">=", "fever_c"),
            Condition("spo2", "<", "spo2_urgent_below"),
        ),
    ),
)

# Symptom bands are the reference's table, fixed (not care-team thresholds).
SYMPTOM_SCALES: tuple[SymptomScale, ...] = (
    SymptomScale(("seizure",), (1,), (None, "R_SEIZURE")),
    SymptomScale(("decreased_consciousness",), (1, 3), (None, "R_DROWSY", "R_UNAROUSABLE")),
    SymptomScale(("confusion",), (1,), (None, "R_CONFUSION")),
    SymptomScale(("speech_difficulty",), (1,), (None, "R_SPEECH")),
    SymptomScale(("handwriting_change",), (1,), (None, "R_HANDWRITING")),
    SymptomScale(("tremor",), (1,), (None, "R_TREMOR")),
    SymptomScale(("limb_weakness",), (1,), (None, "R_FOCAL_WEAKNESS")),
    SymptomScale(
        ("trouble_concentrating", "memory_problems"),
        (1, 2),
        (None, "R_COGNITION_MILD", "R_COGNITION"),
    ),
    SymptomScale(("personality_change",), (1,), (None, "R_PERSONALITY")),
    SymptomScale(("headache",), (1, 3), (None, "R_HEADACHE_MILD", "R_HEADACHE_SEVERE")),
    SymptomScale(("facial_weakness",), (1,), (None, "R_FACIAL_WEAKNESS")),
    SymptomScale(("numbness_tingling",), (1, 2), (None, "R_NUMBNESS_MILD", "R_NUMBNESS")),
    SymptomScale(("slow_movement_stiffness",), (1,), (None, "R_MOVEMENT")),
    SymptomScale(("walking_difficulty",), (1, 2), (None, "R_WALKING_MILD", "R_WALKING")),
    SymptomScale(("shortness_of_breath",), (1, 3), (None, "R_BREATHING", "R_BREATHING_SEVERE")),
    SymptomScale(("chills",), (1,), (None, "R_CHILLS")),
    SymptomScale(("fast_heartbeat",), (1, 2), (None, "R_PALPITATIONS_MILD", "R_PALPITATIONS")),
    SymptomScale(("dizziness",), (1, 2), (None, "R_DIZZINESS_MILD", "R_DIZZINESS")),
    SymptomScale(("fainting",), (1,), (None, "R_FAINTING")),
    SymptomScale(("nausea", "vomiting", "diarrhea"), (1, 3), (None, "R_GI_MILD", "R_GI_SEVERE")),
    SymptomScale(("fatigue",), (1, 3), (None, "R_FATIGUE_MILD", "R_FATIGUE_SEVERE")),
    SymptomScale(("muscle_joint_pain",), (1, 3), (None, "R_PAIN_MILD", "R_PAIN_SEVERE")),
    SymptomScale(("chest_pain",), (1,), (None, "R_CHEST_PAIN")),
    SymptomScale(("bruising",), (1,), (None, "R_BRUISING")),
    SymptomScale(("bleeding",), (1, 3), (None, "R_BLEEDING", "R_BLEEDING_SEVERE")),
    SymptomScale(
        ("cough", "sore_throat", "painful_urination"),
        (1, 2),
        (None, "R_INFECTION_MILD", "R_INFECTION_SIGN"),
    ),
    # Starts at 2: reduced_urine = 1 fires nothing (reference section 6: R_URINE_LOW >= 2).
    SymptomScale(("reduced_urine",), (2,), (None, "R_URINE_LOW")),
    SymptomScale(
        ("decreased_appetite", "rash", "swelling", "vision_change"),
        (1, 3),
        (None, "R_OTHER_SYMPTOM", "R_OTHER_SEVERE"),
    ),
)


# --- Thresholds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdSpec:
    """A care-team threshold: default, sane bounds (inclusive) and allowed decimal places."""

    name: str
    default: Decimal
    minimum: Decimal
    maximum: Decimal
    decimals: int


# Bounds are sanity limits on what a care team may configure, not clinical advice. Integer
# measures (mmHg, %, /min, ICE points, hours, severity points) take whole numbers only.
THRESHOLD_SPECS: tuple[ThresholdSpec, ...] = tuple(
    ThresholdSpec(name, Decimal(default), Decimal(low), Decimal(high), decimals)
    for name, default, low, high, decimals in (
        ("fever_c", "38.0", "37.5", "39.0", 2),
        ("low_temp_c", "36.0", "35.0", "37.5", 2),
        ("sbp_urgent_below", "90", "80", "110", 0),
        ("sbp_emergency_below", "80", "60", "100", 0),
        ("spo2_urgent_below", "92", "88", "96", 0),
        ("spo2_emergency_below", "90", "80", "94", 0),
        ("hr_urgent_above", "120", "100", "160", 0),
        ("hr_watch_above", "100", "80", "140", 0),
        ("ice_urgent_below", "10", "7", "10", 0),
        ("ice_emergency_below", "3", "1", "7", 0),
        ("fever_return_afebrile_hours", "24", "6", "168", 0),
        ("symptom_worsening_delta", "2", "1", "4", 0),
    )
)

_SPECS_BY_NAME: Mapping[str, ThresholdSpec] = MappingProxyType(
    {spec.name: spec for spec in THRESHOLD_SPECS}
)

DEFAULT_THRESHOLDS: Mapping[str, Decimal] = MappingProxyType(
    {spec.name: spec.default for spec in THRESHOLD_SPECS}
)

# (lower, higher): the first must be strictly less than the second, so that bands stay ordered
# and every emergency bound is stricter than its urgent (or watch) partner.
THRESHOLD_ORDER: tuple[tuple[str, str], ...] = (
    ("low_temp_c", "fever_c"),
    ("sbp_emergency_below", "sbp_urgent_below"),
    ("spo2_emergency_below", "spo2_urgent_below"),
    ("hr_watch_above", "hr_urgent_above"),
    ("ice_emergency_below", "ice_urgent_below"),
)


class ThresholdError(ValueError):
    """Raised when care-team thresholds are unknown, not numbers, out of bounds or incoherent."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(f"invalid thresholds: {errors}")
        self.errors = errors


def _to_decimal(value: object) -> Decimal | None:
    # bool is an int subclass: True is not a threshold.
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
    elif isinstance(value, float):
        # Through str, so that 38.3 stays 38.3 and not its binary expansion.
        number = Decimal(str(value))
    else:
        return None
    return number if number.is_finite() else None


def _check_value(spec: ThresholdSpec, raw: object) -> tuple[Decimal | None, list[str]]:
    number = _to_decimal(raw)
    if number is None:
        return None, ["Not a valid number."]
    if not spec.minimum <= number <= spec.maximum:
        return None, [f"Must be between {spec.minimum} and {spec.maximum}."]
    with localcontext(Context(prec=28)):
        step = Decimal(1).scaleb(-spec.decimals)
        if number != number.quantize(step):
            if spec.decimals == 0:
                return None, ["Must be a whole number."]
            return None, [f"Must have at most {spec.decimals} decimal places."]
    # Whole-number thresholds are stored without a fractional part ("90", not "90.0").
    return (Decimal(int(number)) if spec.decimals == 0 else number), []


def validate_thresholds(overrides: Mapping[str, object]) -> dict[str, Decimal]:
    """Merge care-team overrides into the defaults and check them; raise ThresholdError if bad."""
    errors: dict[str, list[str]] = {}
    merged = dict(DEFAULT_THRESHOLDS)
    for name, raw in overrides.items():
        spec = _SPECS_BY_NAME.get(name) if isinstance(name, str) else None
        if spec is None:
            errors.setdefault(str(name), []).append("Unknown threshold.")
            continue
        number, messages = _check_value(spec, raw)
        if number is None:
            errors.setdefault(name, []).extend(messages)
        else:
            merged[name] = number
    for lower, higher in THRESHOLD_ORDER:
        if lower in errors or higher in errors:
            continue
        if not merged[lower] < merged[higher]:
            message = f"{lower} ({merged[lower]}) must be lower than {higher} ({merged[higher]})."
            # Report it on the field(s) the team changed, since the defaults are coherent.
            for name in (lower, higher):
                if name in overrides:
                    errors.setdefault(name, []).append(message)
    if errors:
        raise ThresholdError(errors)
    return merged
