"""The part every authorization-matrix test shares: judging one cell and sending one request.

A matrix test sends, for every (method, path, body, expected statuses) row and every principal,
one request; a cell is wrong when its status is not the expected one or a 4xx/5xx body lacks the
`errors` envelope, and it leaks when the reply holds a marker the principal must never see (one
the caller itself sent in `asked`, its path and payload, is not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx


@dataclass
class Findings:
    """The wrong and the leaking cells of one matrix, as lines to report."""

    wrong: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def check(self, reply: httpx.Response, cell: str, expected: int, markers: Iterable[str], asked: str) -> None:
        """Record what is wrong with `reply`, the answer of `cell`, and any of `markers` it leaks."""
        if reply.status_code != expected:
            self.wrong.append(f"{cell}: expected {expected}, got {reply.status_code} {reply.text[:160]}")
        if reply.status_code >= 400 and "errors" not in reply.json():
            self.wrong.append(f"{cell}: error body without the errors envelope: {reply.text[:160]}")
        seen = [m for m in markers if m in reply.text and m not in asked]
        if seen:
            self.leaks.append(f"{cell}: leaked {seen} in {reply.text[:200]}")

    def assert_clean(self) -> None:
        """Fail with every wrong cell, then with every leaking one."""
        assert not self.wrong, "wrong cells:\n" + "\n".join(self.wrong)
        assert not self.leaks, "leaking cells:\n" + "\n".join(self.leaks)


def send(http: httpx.Client, method: str, path: str, payload: object, headers: dict[str, str]) -> httpx.Response:
    """One request; sent again once if the server closed the pooled connection before reading it.

    A keep-alive connection the gateway closes just as the client reuses it (seen once in ~10
    fresh-clone runs, after an early 4xx on a request with a body) fails with "Server disconnected
    without sending a response": nothing was processed, so sending it again is safe.
    """
    try:
        return http.request(method, path, json=payload, headers=headers)
    except httpx.RemoteProtocolError:
        return http.request(method, path, json=payload, headers=headers)
