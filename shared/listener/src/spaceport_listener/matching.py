"""Topic globs and filter objects, matched the way `@flatfile/listener` matches them.

A topic glob uses `:` as the segment separator: `*` matches within one segment, a whole `**`
segment matches any number of segments (so `**` alone matches every topic). Filter objects are
flattened to dotted paths; a filter key with neither `.` nor `*` matches at any depth, so
`{"job": "space:configure"}` matches `payload.job` and `{"sheetSlug": "contacts"}` matches
`context.sheetSlug`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Filter", "filter_matches", "flatten", "glob_match", "topic_matches"]

Filter = Mapping[str, Any]

_MISSING = object()


@functools.lru_cache(maxsize=1024)
def _segment_regex(segment: str) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in segment)
    return re.compile("".join(parts), re.DOTALL)


def glob_match(pattern: str, value: str, separator: str = ":") -> bool:
    """True when `value` matches the glob `pattern` (segments split on `separator`)."""
    return _match_segments(tuple(pattern.split(separator)), tuple(value.split(separator)))


@functools.lru_cache(maxsize=4096)
def _match_segments(pattern: tuple[str, ...], value: tuple[str, ...]) -> bool:
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_segments(rest, value[skip:]) for skip in range(len(value) + 1))
    if not value or not _segment_regex(head).fullmatch(value[0]):
        return False
    return _match_segments(rest, value[1:])


def topic_matches(patterns: Iterable[str], topic: str) -> bool:
    return any(glob_match(pattern, topic) for pattern in patterns)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys; lists stay whole values (like `flat(…, {safe: true})`)."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def filter_matches(filter_: Filter, event: Mapping[str, Any]) -> bool:
    """True when every key of the (flattened) filter matches somewhere in the event."""
    flat_event = flatten(event)
    return all(_key_matches(key, expected, flat_event) for key, expected in flatten(filter_).items())


def _key_matches(key: str, expected: Any, flat_event: Mapping[str, Any]) -> bool:
    key_glob = key if ("." in key or "*" in key) else f"**.{key}"
    found = [value for path, value in flat_event.items() if glob_match(key_glob, path, ".")]
    if expected is None:
        return not found or any(value is None for value in found)
    return any(_value_matches(expected, value) for value in found)


def _value_matches(expected: Any, actual: Any) -> bool:
    if isinstance(actual, list):
        return any(_value_matches(expected, item) for item in actual)
    if isinstance(expected, list | tuple | set | frozenset):
        return any(_value_matches(option, actual) for option in expected)
    if isinstance(expected, str):
        return isinstance(actual, str) and glob_match(expected, actual)
    # `type(...) is` keeps True from matching 1, as JavaScript's === would
    return type(expected) is type(actual) and bool(expected == actual)
