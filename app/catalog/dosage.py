"""A stage's dosage of one exercise, said in words: for handouts, FHIR and anyone printing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TIMES = {1: "once", 2: "twice"}


def amount_text(dosage: Mapping[str, Any]) -> str:
    """`3 sets of 12 reps, hold 30 s, each side`."""
    sets = int(dosage.get("sets") or 1)
    parts = [f"{sets} set" + ("" if sets == 1 else "s")]
    reps = int(dosage.get("reps") or 0)
    if reps:
        parts[0] += f" of {reps} rep" + ("" if reps == 1 else "s")
    if dosage.get("hold_seconds"):
        parts.append(f"hold {dosage['hold_seconds']} s")
    if dosage.get("sides") == "each_side":
        parts.append("each side")
    return ", ".join(parts)


def frequency_text(dosage: Mapping[str, Any]) -> str:
    """`twice a day, 5 days a week` (or `once a day, every day`)."""
    per_day = int(dosage.get("times_per_day") or 1)
    days = int(dosage.get("days_per_week") or 7)
    times = TIMES.get(per_day, f"{per_day} times")
    return f"{times} a day, " + ("every day" if days == 7 else f"{days} days a week")


def dosage_text(dosage: Mapping[str, Any]) -> str:
    text = f"{amount_text(dosage)}; {frequency_text(dosage)}"
    if dosage.get("notes"):
        text += f". {dosage['notes']}"
    return text
