"""API keys: generated here, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from spaceport import ids
from spaceport.contracts.feed import ACCOUNT_ID
from spaceport.contracts.space import KEY_OPERATIONS, ApiKeyIssued, ApiKeyView, KeyKind


def hash_key(raw: str) -> str:
    # Keys are 32+ random characters, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key(kind: KeyKind) -> str:
    return ("sk_" if kind == "secret" else "pk_") + secrets.token_urlsafe(24)


def issued(raw: str, kind: KeyKind) -> ApiKeyIssued:
    return ApiKeyIssued(key_id=ids.new_id("key"), kind=kind, key_hash=hash_key(raw), hint=raw[-4:])


def view(key: ApiKeyIssued, environment_id: str, created_at: datetime) -> ApiKeyView:
    """Flatfile's `ApiKey` for an issued key (never its raw value)."""
    return ApiKeyView(
        id=key.key_id,
        type="SECRET" if key.kind == "secret" else "PUBLISHABLE",
        environment_id=environment_id,
        account_id=ACCOUNT_ID,
        operations=list(KEY_OPERATIONS[key.kind]),
        created_at=created_at,
    )
