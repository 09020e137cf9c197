"""`asOf`-style moments: a stream sequence (digits) or an ISO-8601 time, parsed one way for every
service that reads as of an earlier moment (records, workbooks, restores)."""

from __future__ import annotations

from datetime import UTC, datetime

from spaceport.errors import ValidationFailedError

MAX_SEQUENCE = 2**63 - 1  # a Postgres bigint (JetStream's sequences are unsigned 64-bit)


def sequence(value: str, key: str) -> int:
    """A stream sequence given as digits; 400 beyond MAX_SEQUENCE (checked before `int()` reads
    thousands of digits)."""
    if not value.isdigit() or len(value) > len(str(MAX_SEQUENCE)) or int(value) > MAX_SEQUENCE:
        raise ValidationFailedError(f"{key}: a stream sequence is a whole number from 0 to {MAX_SEQUENCE}", key=key)
    return int(value)


def time(value: str, key: str, hint: str) -> datetime:
    """An ISO-8601 time (`Z` or an offset; none: UTC); 400 naming `hint` (what else `key` takes)."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailedError(
            f"{key} takes an ISO-8601 time (e.g. 2026-12-01T10:00:00Z){hint}", key=key
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
