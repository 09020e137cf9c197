"""Mapping plans, pure: which source field goes to which destination field (Flatfile's JobExecutionPlan).

`compute_plan` matches by normalised names (lowercase, only a-z0-9): first an exact match of the
source key or label with a destination key, label or alternative name; then the best token /
edit-distance score at or above `THRESHOLD`. One destination per source, one source per
destination. Remembered mappings (from earlier imports into the same destination) win; enum
destinations get `enumDetails` (source value -> option value, by normalised value, label or
alternative name), which the record service applies column-wise when the plan runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher
from typing import Any

import msgspec

Json = dict[str, Any]
THRESHOLD = 0.75
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


class SourceField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str | None = None


class EnumChoice(msgspec.Struct, frozen=True, kw_only=True):
    value: Any
    label: str | None = None
    alternative_names: list[str] = msgspec.field(default_factory=list)


class DestinationField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str | None = None
    type: str = "string"
    alternative_names: list[str] = msgspec.field(default_factory=list)
    options: list[EnumChoice] = msgspec.field(default_factory=list)  # enum / enum-list only


def normalise(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def tokens(text: str) -> set[str]:
    """Words of `text`, camelCase and separators split: "firstName" and "First Name" -> {first, name}."""
    return {t.lower() for t in _TOKENS.findall(text)}


def _names(key: str, label: str | None, extra: list[str] | None = None) -> list[str]:
    return [n for n in (key, label, *(extra or [])) if n]


def score(source: SourceField, destination: DestinationField) -> float:
    """1.0 for an exact normalised name match; else the best token overlap or edit similarity."""
    left = _names(source.key, source.label)
    right = _names(destination.key, destination.label, destination.alternative_names)
    exact = {normalise(n) for n in right} - {""}
    if any(normalise(n) in exact for n in left):
        return 1.0
    best = 0.0
    for a in left:
        for b in right:
            na, nb = normalise(a), normalise(b)
            if not na or not nb:
                continue
            ta, tb = tokens(a), tokens(b)
            jaccard = len(ta & tb) / len(ta | tb) if ta and tb else 0.0
            best = max(best, jaccard, SequenceMatcher(None, na, nb).ratio())
    return min(best, 0.99)


def _source(field: SourceField) -> Json:
    return {"key": field.key, "label": field.label or field.key}


def _destination(field: DestinationField) -> Json:
    return {"key": field.key, "label": field.label or field.key, "type": field.type}


def _certainty(score: float) -> str:
    return "absolute" if score >= 1.0 else "strong" if score >= 0.9 else "moderate"


def remembered_names(field: SourceField) -> list[str]:
    """The names a remembered mapping is looked up by: the source's normalised key and label."""
    return [n for n in dict.fromkeys(normalise(x) for x in _names(field.key, field.label)) if n]


def compute_plan(
    sources: list[SourceField],
    destinations: list[DestinationField],
    remembered: Mapping[str, str] | None = None,
    source_values: Mapping[str, list[Any]] | None = None,
) -> Json:
    """The JobExecutionPlan: best pairs first, each field used at most once.

    `remembered` (normalised source name -> destination key, from earlier imports into the same
    destination) wins over any score; then exact name matches, then similarity. `source_values`
    (source key -> its distinct values) gives enum destinations their `enumDetails`."""
    known = {d.key: j for j, d in enumerate(destinations)}
    pairs: list[tuple[float, int, int, str]] = []
    for i, src in enumerate(sources):
        for name in remembered_names(src):
            j = known.get((remembered or {}).get(name, ""), -1)
            if j >= 0:
                pairs.append((2.0, i, j, "remembered"))
                break
        for j, dst in enumerate(destinations):
            if (s := score(src, dst)) >= THRESHOLD:
                pairs.append((s, i, j, "exact" if s >= 1.0 else "similarity"))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    chosen: dict[int, tuple[int, float, str]] = {}
    taken: set[int] = set()
    for s, i, j, how in pairs:
        if i not in chosen and j not in taken:
            chosen[i] = (j, s, how)
            taken.add(j)
    mapping = []
    for i, (j, s, how) in sorted(chosen.items()):
        edge: Json = {
            "sourceField": _source(sources[i]),
            "destinationField": _destination(destinations[j]),
            "metadata": {"certainty": _certainty(s), "confidence": min(s, 1.0), "source": how},
        }
        mapping.append(edge)
    plan = {
        "fieldMapping": mapping,
        "unmappedSourceFields": [{"sourceField": _source(s)} for i, s in enumerate(sources) if i not in chosen],
        "unmappedDestinationFields": [
            {"destinationField": _destination(d)} for j, d in enumerate(destinations) if j not in taken
        ],
    }
    if source_values:
        add_enum_details(plan, destinations, source_values)
    return plan


def add_enum_details(plan: Json, destinations: list[DestinationField], source_values: Mapping[str, list[Any]]) -> None:
    """Give each edge into an enum destination its `enumDetails` from the source's distinct values."""
    options = {d.key: d.options for d in destinations if d.options}
    for edge in plan["fieldMapping"]:
        wanted = options.get(edge["destinationField"]["key"])
        values = source_values.get(edge["sourceField"]["key"])
        if wanted and values is not None:
            edge["enumDetails"] = enum_details(values, wanted)


def enum_details(values: list[Any], options: list[EnumChoice]) -> Json:
    """Flatfile's `enumDetails`: each distinct source value -> the option it names, when it names one."""
    mapping, unused = [], []
    targeted: set[str] = set()
    for value in values:
        if value is None or value == "":
            continue
        found = enum_value(value, options)
        if found is value and not any(found == o.value for o in options):
            unused.append(value)
            continue
        mapping.append({"sourceValue": value, "destinationValue": found})
        targeted.add(str(found))
    return {
        "mapping": mapping,
        "unusedSourceValues": unused,
        "unusedDestinationValues": [o.value for o in options if str(o.value) not in targeted],
    }


def remembered_edges(plan: Json) -> dict[str, str]:
    """What a completed mapping teaches: normalised source name -> destination key, per edge."""
    out: dict[str, str] = {}
    for edge in plan.get("fieldMapping") or []:
        source, destination = edge.get("sourceField") or {}, edge.get("destinationField") or {}
        if not isinstance(source.get("key"), str) or not isinstance(destination.get("key"), str):
            continue
        field = SourceField(
            key=source["key"], label=source.get("label") if isinstance(source.get("label"), str) else None
        )
        for name in remembered_names(field):
            out[name] = destination["key"]
    return out


def enum_value(value: Any, options: list[EnumChoice]) -> Any:
    """The option value `value` names (by normalised value, label or alternative name); else `value`."""
    if value is None or not options:
        return value
    wanted = normalise(str(value))
    for option in options:
        if wanted in {normalise(str(n)) for n in _names(str(option.value), option.label, option.alternative_names)}:
            return option.value
    return value
