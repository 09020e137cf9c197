"""Where a decoded JSON value holds a NUL character (Postgres text and jsonb cannot hold one).

The gateway refuses such a body before a command is sent, the record service refuses a records
body the same way; both name the place with `nul_at`."""

from __future__ import annotations

from typing import Any, NamedTuple


class NulAt(NamedTuple):
    path: str  # relative: "" (the value itself), "[0].name", "meta.tags[2]"; a key's is its object's
    in_key: bool  # the NUL is in a key of the object at `path`

    @property
    def jsonpath(self) -> str:
        return "$" + self.path if not self.path or self.path.startswith("[") else f"$.{self.path}"


def nul_at(value: Any, path: str = "") -> NulAt | None:
    """The first place (depth first, in order) where `value` (as `msgspec.json.decode` gives it)
    holds a NUL character in a string, a key included; None when it holds none."""
    if isinstance(value, str):
        return NulAt(path, False) if "\x00" in value else None
    if isinstance(value, list):
        for n, item in enumerate(value):
            if (found := nul_at(item, f"{path}[{n}]")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return NulAt(path, True)
            if (found := nul_at(item, f"{path}.{key}" if path else key)) is not None:
                return found
    return None
