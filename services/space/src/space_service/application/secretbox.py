"""Secret values sealed with AES-256-GCM before they enter an event (and so the log and the read model).

A sealed value is base64(nonce ‖ ciphertext ‖ tag), 12 random bytes of nonce per seal; the
secret's id is the associated data, so a ciphertext copied onto another secret does not open.
The key is `SPACEPORT_SECRETS_KEY` (base64 of 32 bytes); without it one is derived from the
development key, and without either the service stores no secrets (writes answer 503).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spaceport.errors import ServiceUnavailableError
from spaceport.settings import Settings

NONCE_BYTES = 12
KEY_BYTES = 32
NOT_CONFIGURED = (
    "secrets are not configured on this server: the operator must set SPACEPORT_SECRETS_KEY"
    " to base64 of 32 random bytes (e.g. `openssl rand -base64 32`)"
)


class SecretBox:
    """Seals and opens values under one AES-256 key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a secrets key has {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, value: str, secret_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), secret_id.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, ciphertext: str, secret_id: str) -> str:
        """The value; 503 when it was sealed under another key (or for another secret)."""
        try:
            raw = base64.b64decode(ciphertext, validate=True)
            value = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], secret_id.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise ServiceUnavailableError(
                f"secret {secret_id} cannot be decrypted with this server's SPACEPORT_SECRETS_KEY"
                " (was the key changed?)"
            ) from None
        return value.decode()


def key_of(settings: Settings) -> bytes | None:
    """The configured key; else one derived from the dev key (stable across restarts); else None."""
    if settings.secrets_key:
        try:
            key = base64.b64decode(settings.secrets_key, validate=True)
        except binascii.Error:
            raise ValueError("SPACEPORT_SECRETS_KEY must be base64 of 32 bytes") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"SPACEPORT_SECRETS_KEY must be base64 of {KEY_BYTES} bytes, not {len(key)}")
        return key
    if settings.dev_secret_key:
        return hashlib.sha256(b"secrets-key:" + settings.dev_secret_key.encode()).digest()
    return None


def box_of(settings: Settings) -> SecretBox | None:
    key = key_of(settings)
    return None if key is None else SecretBox(key)


def require(box: SecretBox | None) -> SecretBox:
    if box is None:
        raise ServiceUnavailableError(NOT_CONFIGURED)
    return box
