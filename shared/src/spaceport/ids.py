"""Flatfile-style identifiers: `us_<kind>_<random>`, e.g. `us_sp_k3j9x0q2ab`."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid

_ALPHABET = string.ascii_lowercase + string.digits

# Flatfile's two-letter kinds; the id tells a reader what it names.
PREFIXES = {
    "environment": "us_env",
    "space": "us_sp",
    "workbook": "us_wb",
    "sheet": "us_sh",
    "record": "us_rc",
    "commit": "us_vr",
    "file": "us_fl",
    "job": "us_jb",
    "document": "us_dc",
    "guest": "us_g",
    "event": "us_evt",
    "user": "us_usr",
    "snapshot": "us_ss",
    "agent": "us_ag",
    "key": "us_key",
    "secret": "us_sec",
    "app": "us_app",
    "constraint": "us_cn",
    "role": "us_rol",
    "actor_role": "us_acr",
    "view": "us_vi",
    "data_retention_policy": "us_drp",
}


def new_id(kind: str, length: int = 10) -> str:
    """A fresh random id for an entity of `kind` (a key of PREFIXES)."""
    # One urandom read per id (16 bytes = 128 bits, more than 20 base-36 digits need).
    return f"{PREFIXES[kind]}_{_base36(int.from_bytes(secrets.token_bytes(16), 'big'), length)}"


def derived_id(kind: str, seed: str, length: int = 10) -> str:
    """A deterministic id for `seed`: a retried command derives the same ids and events."""
    return f"{PREFIXES[kind]}_{_base36(uuid.uuid5(uuid.NAMESPACE_URL, seed).int, length)}"


def new_ids(kind: str, count: int, length: int = 20) -> list[str]:
    """`count` fresh random ids at once (bulk inserts): hex digits of one urandom read, `length`
    digits = 4 * length bits each (80 by default: no collision in billions of records)."""
    return _sliced(PREFIXES[kind], secrets.token_bytes(_bytes(count, length)), count, length)


def derived_ids(kind: str, seed: str, count: int, length: int = 20) -> list[str]:
    """`count` deterministic ids for `seed` (a retried bulk insert derives the same ones): the
    digits of one SHAKE-256 stream of the seed, so id n depends on the seed and n only."""
    stream = hashlib.shake_256(seed.encode()).digest(_bytes(count, length))
    return _sliced(PREFIXES[kind], stream, count, length)


def _bytes(count: int, length: int) -> int:
    return -(-count * length // 2)


def _sliced(prefix: str, raw: bytes, count: int, length: int) -> list[str]:
    digits = raw.hex()
    head = prefix + "_"
    return [head + digits[n : n + length] for n in range(0, count * length, length)]


def _base36(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def has_kind(value: str, kind: str) -> bool:
    """True when `value` looks like an id of `kind`."""
    return value.startswith(PREFIXES[kind] + "_") and len(value) > len(PREFIXES[kind]) + 1
