"""Limits on what a client may store: checked in `decide`, so nothing over a limit is ever written."""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from spaceport import paging
from spaceport.errors import ValidationFailedError

MAX_NAME = 255
MAX_JSON_BYTES = 64 * 1024  # metadata, settings, actions: encoded size
MAX_LIST_ITEMS = 100  # labels, namespaces, treatments, allowed domains
MAX_BODY_CHARS = 1024 * 1024  # a document body (markdown / HTML)
MAX_PAGE_SIZE = 1000

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_encoder = msgspec.json.Encoder()


def text(value: str | None, key: str, limit: int = MAX_NAME) -> None:
    if value is not None and len(value) > limit:
        raise ValidationFailedError(f"{key} is longer than {limit} characters", key=key)


def required_text(value: str, key: str, limit: int = MAX_NAME) -> None:
    if not value.strip():
        raise ValidationFailedError(f"{key} must not be empty", key=key)
    text(value, key, limit)


def json_size(value: object | None, key: str, limit: int = MAX_JSON_BYTES) -> None:
    if value is not None and len(_encoder.encode(value)) > limit:
        raise ValidationFailedError(f"{key} is larger than {limit // 1024} KB encoded", key=key)


def strings(values: Sequence[str] | None, key: str) -> None:
    if values is None:
        return
    if len(values) > MAX_LIST_ITEMS:
        raise ValidationFailedError(f"{key} has more than {MAX_LIST_ITEMS} items", key=key)
    for value in values:
        text(value, key)


def email(value: str) -> str:
    """The normalised (lower-case) address; refuses what is not an address."""
    text(value, "email")
    if not _EMAIL.match(value.strip()):
        raise ValidationFailedError(f"{value!r} is not an email address", key="email")
    return value.strip().lower()


def page(page_size: int, page_number: int) -> None:
    paging.check(page_size, page_number, MAX_PAGE_SIZE)


_ID = re.compile(r"^[a-z0-9]+_[a-z]+_[A-Za-z0-9]+$")


def is_id(value: str, prefix: str) -> bool:
    """`value` looks like an id with `prefix` (e.g. `us_sp`) and is safe inside a subject."""
    return value.startswith(prefix + "_") and _ID.match(value) is not None and len(value) <= 64
