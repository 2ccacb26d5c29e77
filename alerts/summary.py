"""The daily summary for charts: one row per day since infusion, from that day's reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from alerts.catalog import level_rank


class _SymptomLike(Protocol):
    code: str
    severity: int


class ReportLike(Protocol):
    """The fields of a stored report that the summary reads."""

    day_since_infusion: int
    level: str
    temperature_c: Decimal | None
    spo2: int | None
    systolic_bp: int | None
    heart_rate: int | None
    ice_total: int | None

    @property
    def symptoms(self) -> Sequence[_SymptomLike]: ...


def _extreme(values: Iterable[Any], pick: Any) -> Any:
    present = [value for value in values if value is not None]
    return pick(present) if present else None


def daily_summary(reports: Iterable[ReportLike]) -> list[dict[str, Any]]:
    """Summarise reports per day: the worst of each measure and symptom (missing stays None)."""
    days: dict[int, list[ReportLike]] = {}
    for report in reports:
        days.setdefault(report.day_since_infusion, []).append(report)
    rows = []
    for day in sorted(days):
        group = days[day]
        worst: dict[str, int] = {}
        for report in group:
            for symptom in report.symptoms:
                worst[symptom.code] = max(worst.get(symptom.code, 0), symptom.severity)
        rows.append(
            {
                "day": day,
                "reports": len(group),
                "level": max((r.level for r in group), key=level_rank),
                "max_temperature_c": _extreme((r.temperature_c for r in group), max),
                "min_spo2": _extreme((r.spo2 for r in group), min),
                "min_systolic_bp": _extreme((r.systolic_bp for r in group), min),
                "max_heart_rate": _extreme((r.heart_rate for r in group), max),
                "min_ice_total": _extreme((r.ice_total for r in group), min),
                "symptoms": dict(sorted(worst.items())),
            }
        )
    return rows
