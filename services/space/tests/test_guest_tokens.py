"""Guest tokens: signed, expiring, tamper-evident."""

from __future__ import annotations

import pytest

from space_service.application import tokens

pytestmark = pytest.mark.unit
SECRET = b"k" * 32


def test_a_token_round_trips_until_it_expires() -> None:
    claims = tokens.Claims(g="us_g_1", s="us_sp_1", e="us_env_1", x=2_000)
    token = tokens.issue(SECRET, claims)
    assert token.startswith("gt_")
    assert tokens.verify(SECRET, token, now=1_000) == claims
    assert tokens.verify(SECRET, token, now=2_000) is None


@pytest.mark.parametrize(
    "mangle", [lambda t: t + "x", lambda t: t.replace(".", ".A", 1), lambda t: "gt_" + t[4:], lambda t: t + "é"]
)
def test_tampered_or_foreign_tokens_are_refused(mangle: object) -> None:
    token = tokens.issue(SECRET, tokens.Claims(g="us_g_1", s="us_sp_1", e="us_env_1", x=2_000))
    assert tokens.verify(SECRET, mangle(token), now=1_000) is None  # type: ignore[operator]
    assert tokens.verify(b"other" * 8, token, now=1_000) is None
    assert tokens.verify(SECRET, "gt_garbage", now=1_000) is None
