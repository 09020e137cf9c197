"""Guest tokens: HMAC-signed, stateless, checked against the read model on every use.

`gt_<payload>.<signature>`, payload = base64url JSON {g: guest id, s: space id, e: environment
id, x: expiry (unix seconds)}. Issuing one writes nothing; deleting the guest or its grant on the
space, or rotating the server secret, makes every token of it invalid at once.

A space's shared link (Flatfile's `guestLink`, for `shared_link` guest authentication) carries a
token with `k: "shared_link"` and no guest behind it: it is the same for every read of the space
and works while the space is live and its `guestAuthentication` includes "shared_link".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time

import msgspec

from spaceport import ids
from spaceport.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "gt_"


SHARED_LINK = "shared_link"
SHARED_LINK_EXPIRY = 4_102_444_800  # 2100-01-01: a shared link lives as long as the space allows it


class Claims(msgspec.Struct, frozen=True, omit_defaults=True):
    g: str
    s: str
    e: str
    x: int
    k: str = ""  # SHARED_LINK: the space's anonymous link; "": a named guest's token


class GuestTokens(msgspec.Struct, frozen=True):
    """How this service signs guest tokens and how long they live (seconds)."""

    secret: bytes
    ttl: float


_decoder = msgspec.json.Decoder(Claims)


def server_secret(settings: Settings) -> bytes:
    """The configured secret; else one derived from the dev key (stable across restarts)."""
    if settings.guest_token_secret:
        return settings.guest_token_secret.encode()
    if settings.dev_secret_key:
        return hashlib.sha256(b"guest-token:" + settings.dev_secret_key.encode()).digest()
    log.warning("SPACEPORT_GUEST_TOKEN_SECRET is not set: guest tokens die with this process")
    return secrets.token_bytes(32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(secret: bytes, claims: Claims) -> str:
    payload = _b64(msgspec.json.encode(claims))
    signature = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    return f"{PREFIX}{payload}.{signature}"


def verify(secret: bytes, token: str, now: float | None = None) -> Claims | None:
    """The claims of a well-signed, unexpired token; None for anything else."""
    payload, _, signature = token.removeprefix(PREFIX).partition(".")
    expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    try:
        claims = _decoder.decode(_unb64(payload))
    except (ValueError, msgspec.DecodeError):
        return None
    return claims if claims.x > (time.time() if now is None else now) else None


def shared_link_token(secret: bytes, environment_id: str, space_id: str) -> str:
    """The token of the space's shared link: deterministic, so the link is the same on every read."""
    actor = ids.derived_id("guest", f"shared_link:{space_id}")
    claims = Claims(g=actor, s=space_id, e=environment_id, x=SHARED_LINK_EXPIRY, k=SHARED_LINK)
    return issue(secret, claims)
