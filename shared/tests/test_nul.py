"""`spaceport.nul.nul_at`: the first place a decoded JSON value holds a NUL, as a JSON path."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from spaceport.nul import NulAt, nul_at


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'"a\\u0000"', NulAt("", False)),
        (b'[{"name": "ok"}, {"name": "b\\u0000"}]', NulAt("[1].name", False)),
        (b'{"meta": {"tags": ["x", "y\\u0000z"]}}', NulAt("meta.tags[1]", False)),
        (b'[{"na\\u0000me": "ok"}]', NulAt("[0]", True)),
        (b'{"k\\u0000": 1}', NulAt("", True)),
        (b'{"a": "\\u0000", "b": "\\u0000"}', NulAt("a", False)),  # the first one, in order
    ],
)
def test_it_names_the_first_nul(body: bytes, expected: NulAt) -> None:
    assert nul_at(msgspec.json.decode(body)) == expected


@pytest.mark.parametrize("value", [None, 1, 2.5, True, "plain", [], {}, [{"a": ["b", {"c": "d"}]}]])
def test_a_value_without_nul_names_nothing(value: Any) -> None:
    assert nul_at(value) is None


def test_its_jsonpath_starts_at_the_root() -> None:
    assert NulAt("", False).jsonpath == "$"
    assert NulAt("[3].x", False).jsonpath == "$[3].x"
    assert NulAt("x.y", True).jsonpath == "$.x.y"
