"""Symptom catalog and alert levels (clinical reference, section 4)."""

from collections.abc import Mapping
from types import MappingProxyType

# Section 4 table order. Severity is 0-4 (PRO-CTCAE severity words None..Very severe) except where
# the reference gives custom anchors (decreased_consciousness) or yes/no (BINARY_CODES).
SYMPTOM_CODES: tuple[str, ...] = (
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
)

SEVERITY_MIN = 0
SEVERITY_MAX = 4

# Yes/no signs: 0 = no, >= 1 = yes; still entered on the 0-4 scale.
BINARY_CODES: frozenset[str] = frozenset({"seizure", "fainting"})

SYMPTOM_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        code: MappingProxyType({"en": en, "es": es})
        for code, en, es in (
            ("chills", "Chills", "Escalofríos"),
            ("shortness_of_breath", "Shortness of breath", "Falta de aire"),
            ("fast_heartbeat", "Fast or pounding heartbeat", "Latidos rápidos o fuertes"),
            ("dizziness", "Dizziness", "Mareo"),
            ("fainting", "Fainting", "Desmayo"),
            ("headache", "Headache", "Dolor de cabeza"),
            ("nausea", "Nausea", "Náuseas"),
            ("vomiting", "Vomiting", "Vómitos"),
            ("diarrhea", "Diarrhea", "Diarrea"),
            ("fatigue", "Tiredness or weakness", "Cansancio o debilidad"),
            ("muscle_joint_pain", "Muscle or joint pain", "Dolor muscular o de articulaciones"),
            ("decreased_appetite", "Less appetite", "Falta de apetito"),
            ("confusion", "Confusion", "Confusión"),
            ("speech_difficulty", "Trouble speaking", "Dificultad para hablar"),
            ("personality_change", "Change in personality", "Cambio de personalidad"),
            ("handwriting_change", "Change in handwriting", "Cambio en la letra al escribir"),
            (
                "decreased_consciousness",
                "Sleepy or hard to wake",
                "Somnolencia o difícil de despertar",
            ),
            ("seizure", "Seizure", "Convulsión"),
            ("tremor", "Tremor or shaking", "Temblor"),
            ("limb_weakness", "Weakness in an arm or leg", "Debilidad en un brazo o una pierna"),
            ("trouble_concentrating", "Trouble concentrating", "Dificultad para concentrarse"),
            ("memory_problems", "Memory problems", "Problemas de memoria"),
            ("facial_weakness", "Weakness of the face", "Debilidad en la cara"),
            (
                "slow_movement_stiffness",
                "Slow movement or stiffness",
                "Movimientos lentos o rigidez",
            ),
            ("numbness_tingling", "Numbness or tingling", "Adormecimiento u hormigueo"),
            ("walking_difficulty", "Trouble walking", "Dificultad para caminar"),
            ("cough", "Cough", "Tos"),
            ("sore_throat", "Sore throat", "Dolor de garganta"),
            ("painful_urination", "Pain or burning when urinating", "Dolor o ardor al orinar"),
            ("bruising", "Bruising", "Moretones"),
            ("bleeding", "Bleeding", "Sangrado"),
            ("chest_pain", "Chest pain", "Dolor en el pecho"),
            ("reduced_urine", "Passing less urine", "Orinar menos de lo normal"),
            ("rash", "Rash", "Sarpullido"),
            ("swelling", "Swelling", "Hinchazón"),
            ("vision_change", "Change in vision", "Cambios en la vista"),
        )
    }
)

NONE = "none"
# Ordered from least to most severe.
LEVELS: tuple[str, ...] = ("watch", "urgent", "emergency")

_LEVEL_RANKS: Mapping[str, int] = MappingProxyType(
    {NONE: 0, **{level: rank for rank, level in enumerate(LEVELS, start=1)}}
)


def level_rank(level: str) -> int:
    """Return the rank of a level: none 0, watch 1, urgent 2, emergency 3."""
    try:
        return _LEVEL_RANKS[level]
    except KeyError:
        raise ValueError(f"unknown alert level: {level!r}") from None
