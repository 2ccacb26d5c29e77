"""What the patient is told to do now, in English and Spanish (reference, section 6)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from alerts.catalog import NONE
from alerts.evaluate import Finding, report_level

LANGUAGES: tuple[str, ...] = ("en", "es")
DEFAULT_LANGUAGE = "en"
WATCH_RECHECK_MINUTES = 60  # "recheck (temperature in 1 h)"

ACTIONS: Mapping[str, str] = MappingProxyType(
    {
        "emergency": "call_emergency",
        "urgent": "call_care_team",
        "watch": "recheck",
        NONE: "none",
    }
)


@dataclass(frozen=True)
class Prompt:
    """The answer shown to the patient: level, action, message and the number to call."""

    level: str
    action: str
    message: str
    phone: str | None
    recheck_in_minutes: int | None


# level -> language -> (text with the care team's phone, text without a phone number)
HEADLINES: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "emergency": {
            "en": (
                "Call emergency services now. Say that you had CAR T-cell therapy and show your "
                "wallet card. Then tell your care team on {phone}.",
                "Call emergency services now. Say that you had CAR T-cell therapy and show your "
                "wallet card. Then tell your care team.",
            ),
            "es": (
                "Llame ahora a los servicios de emergencia. Diga que recibió una terapia con "
                "células CAR-T y muestre la tarjeta de paciente que le entregaron. Después, avise "
                "a su equipo de atención médica al {phone}.",
                "Llame ahora a los servicios de emergencia. Diga que recibió una terapia con "
                "células CAR-T y muestre la tarjeta de paciente que le entregaron. Después, avise "
                "a su equipo de atención médica.",
            ),
        },
        "urgent": {
            "en": (
                "Call your care team now on {phone}. Do not wait for your next visit. If nobody "
                "answers, go to the emergency department.",
                "Call your care team's 24-hour number now. Do not wait for your next visit. If "
                "nobody answers, go to the emergency department.",
            ),
            "es": (
                "Llame ahora a su equipo de atención médica al {phone}. No espere a su próxima "
                "cita. Si nadie contesta, vaya al servicio de urgencias.",
                "Llame ahora al número de 24 horas de su equipo de atención médica. No espere a "
                "su próxima cita. Si nadie contesta, vaya al servicio de urgencias.",
            ),
        },
        "watch": {
            "en": (
                "We have recorded this. Check again in 1 hour, including your temperature, and "
                "call your care team on {phone} if anything gets worse.",
                "We have recorded this. Check again in 1 hour, including your temperature, and "
                "call your care team if anything gets worse.",
            ),
            "es": (
                "Hemos registrado estos datos. Vuelva a comprobarlo dentro de 1 hora, también la "
                "temperatura, y llame a su equipo de atención médica al {phone} si algo empeora.",
                "Hemos registrado estos datos. Vuelva a comprobarlo dentro de 1 hora, también la "
                "temperatura, y llame a su equipo de atención médica si algo empeora.",
            ),
        },
        NONE: {
            "en": ("Thank you. Nothing needs action now.",) * 2,
            "es": ("Gracias. Por ahora no hace falta hacer nada.",) * 2,
        },
    }
)

_CALL_TEAM_EN = "Call your care team now."
_CALL_TEAM_ES = "Llame ahora a su equipo de atención médica."
_CALL_911_EN = "Call emergency services."
_CALL_911_ES = "Llame a los servicios de emergencia."
_RECHECK_EN = "Check again in 1 hour."
_RECHECK_ES = "Vuelva a comprobarlo dentro de 1 hora."

# message_key -> language -> advice, from section 6 "Patient is told".
MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        key: MappingProxyType({"en": en, "es": es})
        for key, en, es in (
            (
                "fever",
                "Your temperature is in the fever range. Call your care team now; do not wait for "
                "your next visit.",
                "Su temperatura indica fiebre. Llame ahora a su equipo de atención médica; no "
                "espere a su próxima cita.",
            ),
            (
                "fever_hypotension",
                f"You have a fever and low blood pressure. {_CALL_911_EN}",
                f"Tiene fiebre y la presión arterial baja. {_CALL_911_ES}",
            ),
            (
                "fever_hypoxia",
                f"You have a fever and a low oxygen level. {_CALL_911_EN}",
                f"Tiene fiebre y el nivel de oxígeno bajo. {_CALL_911_ES}",
            ),
            (
                "hypotension",
                "Your blood pressure is low. Lie down and call your care team now.",
                "Su presión arterial está baja. Acuéstese y llame ahora a su equipo de atención "
                "médica.",
            ),
            (
                "severe_hypotension",
                f"Your blood pressure is very low. {_CALL_911_EN}",
                f"Su presión arterial está muy baja. {_CALL_911_ES}",
            ),
            (
                "hypoxia",
                f"Your oxygen level is low. {_CALL_TEAM_EN}",
                f"Su nivel de oxígeno está bajo. {_CALL_TEAM_ES}",
            ),
            (
                "severe_hypoxia",
                f"Your oxygen level is very low. {_CALL_911_EN}",
                f"Su nivel de oxígeno está muy bajo. {_CALL_911_ES}",
            ),
            (
                "tachycardia",
                f"Your heart is beating very fast. {_CALL_TEAM_EN}",
                f"Su corazón late muy rápido. {_CALL_TEAM_ES}",
            ),
            (
                "hr_elevated",
                "Your pulse is faster than usual. Rest and check your pulse again in 1 hour.",
                "Su pulso está más rápido de lo normal. Descanse y vuelva a tomarse el pulso "
                "dentro de 1 hora.",
            ),
            (
                "low_temp",
                "Your temperature is lower than expected. Take your temperature again.",
                "Su temperatura está más baja de lo esperado. Vuelva a tomarse la temperatura.",
            ),
            (
                "temp_missing",
                "No temperature was entered. Take your temperature now and enter it.",
                "No se anotó la temperatura. Tómese la temperatura ahora y anótela.",
            ),
            (
                "seizure",
                f"A seizure was reported. {_CALL_911_EN}",
                f"Se informó de una convulsión. {_CALL_911_ES}",
            ),
            (
                "unarousable",
                "The person wakes only when touched or shaken, or cannot be woken. Caregiver: "
                "call emergency services.",
                "La persona solo se despierta si la tocan o la sacuden, o no se puede despertar. "
                "Cuidador: llame a los servicios de emergencia.",
            ),
            (
                "drowsy",
                f"Unusual sleepiness was reported. {_CALL_TEAM_EN}",
                f"Se informó de somnolencia fuera de lo normal. {_CALL_TEAM_ES}",
            ),
            (
                "confusion",
                f"Confusion was reported. {_CALL_TEAM_EN}",
                f"Se informó de confusión. {_CALL_TEAM_ES}",
            ),
            (
                "speech",
                f"Trouble speaking was reported. {_CALL_TEAM_EN}",
                f"Se informó de dificultad para hablar. {_CALL_TEAM_ES}",
            ),
            (
                "handwriting",
                f"A change in handwriting was reported. {_CALL_TEAM_EN}",
                f"Se informó de un cambio en la letra al escribir. {_CALL_TEAM_ES}",
            ),
            (
                "tremor",
                f"Shaking or tremor was reported. {_CALL_TEAM_EN}",
                f"Se informó de temblores. {_CALL_TEAM_ES}",
            ),
            (
                "focal_weakness",
                f"Weakness in an arm or a leg was reported. {_CALL_911_EN}",
                f"Se informó de debilidad en un brazo o una pierna. {_CALL_911_ES}",
            ),
            (
                "ice_critical",
                f"The score of the thinking check (ICE) is very low. {_CALL_911_EN}",
                f"La puntuación de la prueba de pensamiento (ICE) es muy baja. {_CALL_911_ES}",
            ),
            (
                "ice_low",
                f"The score of the thinking check (ICE) is lower than normal. {_CALL_TEAM_EN}",
                "La puntuación de la prueba de pensamiento (ICE) es más baja de lo normal. "
                f"{_CALL_TEAM_ES}",
            ),
            (
                "cognition",
                f"Trouble concentrating or remembering was reported. {_CALL_TEAM_EN}",
                f"Se informó de dificultad para concentrarse o para recordar. {_CALL_TEAM_ES}",
            ),
            (
                "cognition_mild",
                "Mild trouble concentrating or remembering was reported. Repeat the thinking check "
                "(ICE) in 1 hour.",
                "Se informó de una leve dificultad para concentrarse o para recordar. Repita la "
                "prueba de pensamiento (ICE) dentro de 1 hora.",
            ),
            (
                "personality",
                f"A change in personality or behavior was reported. {_CALL_TEAM_EN}",
                f"Se informó de un cambio de personalidad o de comportamiento. {_CALL_TEAM_ES}",
            ),
            (
                "headache_severe",
                f"You have a severe headache. {_CALL_TEAM_EN}",
                f"Tiene un dolor de cabeza fuerte. {_CALL_TEAM_ES}",
            ),
            (
                "headache_mild",
                f"You have a headache. {_RECHECK_EN}",
                f"Tiene dolor de cabeza. {_RECHECK_ES}",
            ),
            (
                "facial_weakness",
                "Weakness of the face was reported. Call your care team now. If there is also "
                "weakness in an arm or a leg, or loss of speech, call emergency services.",
                "Se informó de debilidad en la cara. Llame ahora a su equipo de atención médica. "
                "Si además hay debilidad en un brazo o una pierna, o pérdida del habla, "
                "llame a los servicios de emergencia.",
            ),
            (
                "numbness",
                f"Numbness or tingling was reported. {_CALL_TEAM_EN}",
                f"Se informó de adormecimiento u hormigueo. {_CALL_TEAM_ES}",
            ),
            (
                "numbness_mild",
                "Mild numbness or tingling was reported. Mention it at your next contact with your "
                "care team.",
                "Se informó de un leve adormecimiento u hormigueo. Coménteselo a su equipo de "
                "atención médica la próxima vez que hable con ellos.",
            ),
            (
                "movement",
                f"Slow movement or stiffness was reported. {_CALL_TEAM_EN}",
                f"Se informó de movimientos lentos o rigidez. {_CALL_TEAM_ES}",
            ),
            (
                "walking",
                f"Trouble walking was reported. {_CALL_TEAM_EN}",
                f"Se informó de dificultad para caminar. {_CALL_TEAM_ES}",
            ),
            (
                "walking_mild",
                "Mild trouble walking was reported. Take care to avoid falls and check again in 1 "
                "hour.",
                "Se informó de una leve dificultad para caminar. Tenga cuidado para evitar caídas "
                "y vuelva a comprobarlo dentro de 1 hora.",
            ),
            (
                "breathing_severe",
                f"You are very short of breath. {_CALL_911_EN}",
                f"Le falta mucho el aire. {_CALL_911_ES}",
            ),
            (
                "breathing",
                f"You are short of breath. {_CALL_TEAM_EN}",
                f"Le falta el aire. {_CALL_TEAM_ES}",
            ),
            (
                "chills",
                "You have chills. Take your temperature and call your care team now.",
                "Tiene escalofríos. Tómese la temperatura y llame ahora a su equipo de atención "
                "médica.",
            ),
            (
                "palpitations",
                f"Your heart is racing or pounding. {_CALL_TEAM_EN}",
                f"Siente el corazón acelerado o con latidos fuertes. {_CALL_TEAM_ES}",
            ),
            (
                "palpitations_mild",
                "Your heart is beating a little fast. Check your pulse again in 1 hour.",
                "Siente el corazón un poco acelerado. Vuelva a tomarse el pulso dentro de 1 hora.",
            ),
            (
                "dizziness",
                "You feel dizzy. Sit down and call your care team now.",
                "Tiene mareo. Siéntese y llame ahora a su equipo de atención médica.",
            ),
            (
                "dizziness_mild",
                "You feel a little dizzy. Drink some fluids and check again in 1 hour.",
                "Tiene un poco de mareo. Beba líquidos y vuelva a comprobarlo dentro de 1 hora.",
            ),
            (
                "fainting",
                f"Fainting was reported. {_CALL_911_EN}",
                f"Se informó de un desmayo. {_CALL_911_ES}",
            ),
            (
                "gi_severe",
                f"You have severe nausea, vomiting or diarrhea. {_CALL_TEAM_EN}",
                f"Tiene náuseas, vómitos o diarrea fuertes. {_CALL_TEAM_ES}",
            ),
            (
                "gi_mild",
                "You have nausea, vomiting or diarrhea. Keep drinking fluids and check again in 1 "
                "hour.",
                "Tiene náuseas, vómitos o diarrea. Siga bebiendo líquidos y vuelva a comprobarlo "
                "dentro de 1 hora.",
            ),
            (
                "fatigue_severe",
                f"You feel very tired or weak. {_CALL_TEAM_EN}",
                f"Tiene mucho cansancio o debilidad. {_CALL_TEAM_ES}",
            ),
            (
                "fatigue_mild",
                "You feel tired. Rest and check again in 1 hour.",
                "Tiene cansancio. Descanse y vuelva a comprobarlo dentro de 1 hora.",
            ),
            (
                "pain_severe",
                f"You have severe muscle or joint pain. {_CALL_TEAM_EN}",
                f"Tiene un dolor fuerte en los músculos o las articulaciones. {_CALL_TEAM_ES}",
            ),
            (
                "pain_mild",
                f"You have muscle or joint pain. {_RECHECK_EN}",
                f"Tiene dolor en los músculos o las articulaciones. {_RECHECK_ES}",
            ),
            (
                "chest_pain",
                f"Chest pain was reported. {_CALL_911_EN}",
                f"Se informó de dolor en el pecho. {_CALL_911_ES}",
            ),
            (
                "bruising",
                f"Bruising was reported. {_CALL_TEAM_EN}",
                f"Se informó de moretones. {_CALL_TEAM_ES}",
            ),
            (
                "bleeding_severe",
                f"Heavy bleeding was reported. {_CALL_911_EN}",
                f"Se informó de un sangrado abundante. {_CALL_911_ES}",
            ),
            (
                "bleeding",
                "Bleeding was reported. Press firmly on the place that is bleeding and call your "
                "care team now.",
                "Se informó de un sangrado. Presione con firmeza el lugar que sangra y llame ahora "
                "a su equipo de atención médica.",
            ),
            (
                "infection_sign",
                "You have a cough, a sore throat or pain when urinating, which can be signs of "
                "infection. Call your care team now.",
                "Tiene tos, dolor de garganta o dolor al orinar, que pueden ser señales de una "
                "infección. Llame ahora a su equipo de atención médica.",
            ),
            (
                "infection_mild",
                "You have a mild cough, sore throat or pain when urinating. Take your temperature "
                "and check again in 1 hour.",
                "Tiene tos, dolor de garganta o dolor al orinar leves. Tómese la temperatura y "
                "vuelva a comprobarlo dentro de 1 hora.",
            ),
            (
                "urine_low",
                f"You are passing much less urine than usual. {_CALL_TEAM_EN}",
                f"Está orinando mucho menos de lo normal. {_CALL_TEAM_ES}",
            ),
            (
                "other_severe",
                f"You reported a severe symptom. {_CALL_TEAM_EN}",
                f"Usted indicó un síntoma fuerte. {_CALL_TEAM_ES}",
            ),
            (
                "other_symptom",
                f"You reported a symptom. {_RECHECK_EN}",
                f"Usted indicó un síntoma. {_RECHECK_ES}",
            ),
            (
                "fever_returned",
                f"Your fever has come back after a time without fever. {_CALL_TEAM_EN}",
                f"La fiebre ha vuelto después de un tiempo sin fiebre. {_CALL_TEAM_ES}",
            ),
            (
                "ice_below_baseline",
                "The score of the thinking check (ICE) is lower than your usual score. "
                f"{_CALL_TEAM_EN}",
                "La puntuación de la prueba de pensamiento (ICE) es más baja de lo habitual para "
                f"usted. {_CALL_TEAM_ES}",
            ),
            (
                "symptom_worsening",
                f"A symptom has become clearly worse since your last report. {_CALL_TEAM_EN}",
                f"Un síntoma ha empeorado claramente desde su último informe. {_CALL_TEAM_ES}",
            ),
            (
                "missed_checkin",
                "We have not heard from you since your last check-in. Send your report now, or "
                "call your care team.",
                "No hemos recibido noticias suyas desde su último control. Envíe su informe ahora "
                "o llame a su equipo de atención médica.",
            ),
        )
    }
)


def build_prompt(findings: Sequence[Finding], language: str, care_team_phone: str | None) -> Prompt:
    """Build what the patient is told to do now from the findings of one report.

    ---
    The headline follows the report's level; then the distinct advice of the findings at that
    level, in finding order. Languages other than "en" and "es" fall back to English. A finding
    whose message key has no text still sets the level (its advice line is left out).
    """
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    level = report_level(findings)
    with_phone, without_phone = HEADLINES[level][lang]
    phone = care_team_phone or None
    lines = [with_phone.format(phone=phone) if phone else without_phone]
    for finding in findings:
        if finding.level != level or finding.message_key not in MESSAGES:
            continue
        advice = MESSAGES[finding.message_key][lang]
        if advice not in lines:
            lines.append(advice)
    return Prompt(
        level=level,
        action=ACTIONS[level],
        message="\n".join(lines),
        phone=phone if level != NONE else None,
        recheck_in_minutes=WATCH_RECHECK_MINUTES if level == "watch" else None,
    )
