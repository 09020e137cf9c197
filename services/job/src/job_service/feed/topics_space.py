"""Flatfile events of environments, spaces, guests, documents, secrets and custom events."""

from __future__ import annotations

from typing import Any

import msgspec

from job_service.feed.emit import Handler, Out, changes, space_context, space_namespaces
from job_service.feed.lookups import GuestInfo, Lookups, SpaceInfo
from spaceport.contracts import space as sp
from spaceport.contracts.feed import ACCOUNT_ID, EventPublished, FlatfileContext
from spaceport.contracts.space import secret
from spaceport.events import Event

Json = dict[str, Any]


# ---- environments, spaces, guests, documents, secrets -------------------------------------------


def _environment(
    e: sp.EnvironmentCreated | sp.EnvironmentUpdated | sp.EnvironmentDeleted, out: Out, _: Lookups
) -> None:
    context = out.context(environment_id=e.environment_id, space_id=None)
    if isinstance(e, sp.EnvironmentCreated):
        payload = {"environmentId": e.environment_id, "name": e.name, "isProd": e.is_prod}
        out.emit("environment:created", context, payload)
    elif isinstance(e, sp.EnvironmentUpdated):
        out.emit("environment:updated", context, {"environmentId": e.environment_id, "changes": changes(e)})
    else:
        out.emit("environment:deleted", context, {"environmentId": e.environment_id})


def _space_created(e: sp.SpaceCreated, out: Out, lookups: Lookups) -> None:
    info = SpaceInfo(environment_id=e.environment_id, namespace=e.namespace, app_id=e.app_id)
    lookups.put("space", e.space_id, info)
    payload = {"spaceId": e.space_id, "environmentId": e.environment_id, "name": e.name}
    out.emit("space:created", space_context(out, lookups, e.space_id), payload)


def _space_updated(e: sp.SpaceUpdated, out: Out, lookups: Lookups) -> None:
    info = lookups.space(e.space_id)
    if info is not None and e.namespace is not None:
        lookups.put("space", e.space_id, msgspec.structs.replace(info, namespace=e.namespace))
    context = space_context(out, lookups, e.space_id)
    payload = {"spaceId": e.space_id, "environmentId": context.environment_id, "changes": changes(e)}
    out.emit("space:updated", context, payload)


SPACE_TOPICS = {
    sp.SpaceArchived: "space:archived",
    sp.SpaceUnarchived: "space:unarchived",
    sp.SpaceDeleted: "space:deleted",
}


def _erasure_context(out: Out, lookups: Lookups, e: sp.SpaceDeleted | sp.SpaceExpired) -> FlatfileContext:
    """The context of `space:deleted` / `space:expired`, with the space's namespaces as the event
    itself carries them (its namespace, the app it belonged to): a replay cannot fold them from the
    space's earlier events, which are erased (spaceport.crypto), and the lookups the live feed has
    are never read here, so live and rebuilt feeds are equal. The app's namespace is the app's own
    (environment-level) fact. Events written before they carried it give no namespaces."""
    info = SpaceInfo(environment_id=out.stored.envelope.environment_id, namespace=e.namespace, app_id=e.app_id)
    namespaces = space_namespaces(lookups, info)
    return out.context(environment_id=info.environment_id, space_id=e.space_id, namespaces=namespaces or None)


def _space_lifecycle(e: sp.SpaceArchived | sp.SpaceUnarchived | sp.SpaceDeleted, out: Out, lookups: Lookups) -> None:
    if isinstance(e, sp.SpaceDeleted):
        context = _erasure_context(out, lookups, e)
    else:
        context = space_context(out, lookups, e.space_id)
    out.emit(SPACE_TOPICS[type(e)], context, {"spaceId": e.space_id, "environmentId": context.environment_id})


def _space_expired(e: sp.SpaceExpired, out: Out, lookups: Lookups) -> None:
    """A data retention policy expired the space; its `space:deleted` follows (its own event)."""
    context = _erasure_context(out, lookups, e)
    payload = {
        "spaceId": e.space_id,
        "environmentId": context.environment_id,
        "dataRetentionPolicyId": e.policy_id,
        "type": e.policy_type,
        "period": e.period,
    }
    out.emit("space:expired", context, payload)


def _guest(e: sp.GuestCreated | sp.GuestUpdated | sp.GuestDeleted, out: Out, lookups: Lookups) -> None:
    before = lookups.guest(e.guest_id).space_ids
    if isinstance(e, sp.GuestDeleted):
        after: list[str] = []
    elif e.spaces is None:
        return
    else:
        after = [g.space_id for g in e.spaces]
    lookups.put("guest", e.guest_id, GuestInfo(space_ids=after))
    for space_id in [s for s in after if s not in before]:
        out.emit("space:guestAdded", space_context(out, lookups, space_id), {"guestId": e.guest_id})
    for space_id in [s for s in before if s not in after]:
        out.emit("space:guestRemoved", space_context(out, lookups, space_id), {"guestId": e.guest_id})


DOCUMENT_TOPICS = {
    sp.DocumentCreated: "document:created",
    sp.DocumentUpdated: "document:updated",
    sp.DocumentDeleted: "document:deleted",
}


def _document(e: sp.DocumentCreated | sp.DocumentUpdated | sp.DocumentDeleted, out: Out, lookups: Lookups) -> None:
    space_id = e.space_id if isinstance(e, sp.DocumentCreated) else out.stored.envelope.space_id
    context = space_context(out, lookups, space_id or "", document_id=e.document_id)
    payload: Json = {"documentId": e.document_id, "spaceId": space_id}
    if isinstance(e, sp.DocumentCreated | sp.DocumentUpdated) and e.title is not None:
        payload["title"] = e.title
    out.emit(DOCUMENT_TOPICS[type(e)], context, payload)


SECRET_TOPICS = {
    secret.SecretCreated: "secret:created",
    secret.SecretUpdated: "secret:updated",
    secret.SecretDeleted: "secret:deleted",
}


def _secret(e: secret.SecretCreated | secret.SecretUpdated | secret.SecretDeleted, out: Out, lookups: Lookups) -> None:
    """Never the value (nor its ciphertext): listeners read secrets through `/v1/secrets`."""
    space_id = e.space_id if isinstance(e, secret.SecretCreated) else out.stored.envelope.space_id
    environment_id = out.stored.envelope.environment_id
    if space_id:
        context = space_context(out, lookups, space_id)
    else:
        context = out.context(environment_id=environment_id, space_id=None)
    payload = {"secretId": e.secret_id, "spaceId": space_id, "environmentId": context.environment_id}
    out.emit(SECRET_TOPICS[type(e)], context, payload)


# ---- the feed's own events ----------------------------------------------------------------------


def _published(e: EventPublished, out: Out, _: Lookups) -> None:
    envelope = out.stored.envelope
    posted = {**e.context, "accountId": ACCOUNT_ID, "environmentId": envelope.environment_id}
    posted["spaceId"] = envelope.space_id
    context = msgspec.convert(posted, FlatfileContext, strict=False)
    extra = {"callback_url": e.callback_url, "attributes": e.attributes, "target": e.target, "origin": e.origin}
    out.emit(e.topic, context, e.payload, data_url=e.data_url, id=e.event_id, domain=e.domain, **extra)
    if e.namespaces:  # the posted namespaces, not the context's
        position, event = out.events[-1]
        out.events[-1] = (position, msgspec.structs.replace(event, namespaces=e.namespaces))


HANDLERS: dict[type[Event], Handler] = {
    sp.EnvironmentCreated: _environment,
    sp.EnvironmentUpdated: _environment,
    sp.EnvironmentDeleted: _environment,
    sp.SpaceCreated: _space_created,
    sp.SpaceUpdated: _space_updated,
    sp.SpaceArchived: _space_lifecycle,
    sp.SpaceUnarchived: _space_lifecycle,
    sp.SpaceDeleted: _space_lifecycle,
    sp.SpaceExpired: _space_expired,
    sp.GuestCreated: _guest,
    sp.GuestUpdated: _guest,
    sp.GuestDeleted: _guest,
    sp.DocumentCreated: _document,
    sp.DocumentUpdated: _document,
    sp.DocumentDeleted: _document,
    secret.SecretCreated: _secret,
    secret.SecretUpdated: _secret,
    secret.SecretDeleted: _secret,
    EventPublished: _published,
}
