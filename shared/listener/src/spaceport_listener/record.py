"""`Record`: a record read from a commit, with the small mutation API record hooks use (§3.3)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["MessageType", "Record"]

MessageType = Literal["error", "warn", "info"]


HOOK_SOURCE = "custom-logic"  # the source of messages a listener writes (Flatfile's default)


class Record:
    """Wraps `{id, values: {key: {value, valid, messages}}}` for one run of a record hook.

    As in Flatfile's record hooks, each run computes the hook's messages afresh: the cells start
    without the messages a hook wrote before (source `custom-logic`; the platform's own
    validation messages stay), and the record has changed when a value or the set of hook
    messages differs from what was read. So a fixed cell loses its old error, and running a hook
    twice over the same records (a redelivered `commit:created`) writes nothing the second time.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.id = str(raw.get("id", ""))
        raw_values = raw.get("values") or {}
        read = {key: _cell(cell) for key, cell in raw_values.items() if isinstance(cell, Mapping)}
        self._before: dict[str, tuple[Any, list[tuple[str, str]]]] = {
            key: (cell.get("value"), _hook_messages(cell)) for key, cell in read.items()
        }
        self._cells: dict[str, dict[str, Any]] = {
            key: {
                "value": cell.get("value"),
                "messages": [m for m in cell["messages"] if m.get("source", HOOK_SOURCE) != HOOK_SOURCE],
            }
            for key, cell in read.items()
        }

    @property
    def metadata(self) -> Mapping[str, Any]:
        metadata = self.raw.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    def keys(self) -> list[str]:
        return list(self._cells)

    def get(self, key: str, default: Any = None) -> Any:
        cell = self._cells.get(key)
        return default if cell is None or cell.get("value") is None else cell["value"]

    def set(self, key: str, value: Any) -> Record:
        self._cells.setdefault(key, {"value": None, "messages": []})["value"] = value
        return self

    def messages(self, key: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self._cells.get(key, {}).get("messages", []))

    def add_error(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "error")

    def add_warning(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "warn")

    def add_info(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "info")

    def add_message(self, key: str, message: str, type_: MessageType) -> Record:
        cell = self._cells.setdefault(key, {"value": None, "messages": []})
        existing = cell.setdefault("messages", [])
        if not any(m.get("type") == type_ and m.get("message") == message for m in existing):
            existing.append({"type": type_, "message": message})  # the server records source custom-logic
        return self

    def _changed_keys(self) -> list[str]:
        changed = []
        for key, cell in self._cells.items():
            value, messages = self._before.get(key, (None, []))
            if cell.get("value") != value or _hook_messages(cell) != messages:
                changed.append(key)
        return sorted(changed)

    @property
    def changed(self) -> bool:
        return bool(self._changed_keys())

    def to_update(self) -> dict[str, Any]:
        """The PUT body entry: the record id and the changed cells, with value and hook messages."""
        values = {
            key: {
                "value": self._cells[key].get("value"),
                "messages": [m for m in self.messages(key) if m.get("source", HOOK_SOURCE) == HOOK_SOURCE],
            }
            for key in self._changed_keys()
        }
        return {"id": self.id, "values": values}

    def __repr__(self) -> str:
        return f"Record(id={self.id!r}, values={ {k: c.get('value') for k, c in self._cells.items()} })"


def _hook_messages(cell: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The hook-written messages of a cell, comparable across runs."""
    return sorted(
        (str(m.get("type", "error")), str(m.get("message", "")))
        for m in cell.get("messages") or []
        if m.get("source", HOOK_SOURCE) == HOOK_SOURCE
    )


def _cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    messages = [dict(m) for m in cell.get("messages") or [] if isinstance(m, Mapping)]
    return {"value": cell.get("value"), "messages": messages}
