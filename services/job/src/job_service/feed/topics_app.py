"""Flatfile events of apps (`app:created`, `app:updated`, `app:deleted`), environment-wide.

An app's namespace goes into `event.namespaces` as `app:<namespace>`, so listeners can filter by
app; the feed remembers it (`AppInfo`), and the events of a space that belongs to the app carry
it too (`emit.space_namespaces`). Constraint changes give no Flatfile event (Flatfile has none).
"""

from __future__ import annotations

import msgspec

from job_service.feed.emit import Handler, Out, changes, namespaced
from job_service.feed.lookups import AppInfo, Lookups
from spaceport.contracts.space import app
from spaceport.events import Event

DOMAIN = "environment"  # Flatfile's Domain has no `app`; an app is an environment's


def _emit(out: Out, lookups: Lookups, app_id: str, topic: str, payload: dict[str, object]) -> None:
    info = lookups.app(app_id)
    environment_id = info.environment_id if info else out.stored.envelope.environment_id
    namespaces = namespaced("app", info.namespace if info else None)
    context = out.context(environment_id=environment_id, space_id=None, namespaces=namespaces or None)
    out.emit(topic, context, {"appId": app_id, "environmentId": environment_id, **payload}, domain=DOMAIN)


def _created(e: app.AppCreated, out: Out, lookups: Lookups) -> None:
    lookups.put("app", e.app_id, AppInfo(environment_id=e.environment_id, namespace=e.namespace))
    payload: dict[str, object] = {"name": e.name, "namespace": e.namespace, "type": e.app_type}
    _emit(out, lookups, e.app_id, "app:created", payload)


def _updated(e: app.AppUpdated, out: Out, lookups: Lookups) -> None:
    info = lookups.app(e.app_id)
    if info is not None and e.namespace is not None:
        lookups.put("app", e.app_id, msgspec.structs.replace(info, namespace=e.namespace))
    _emit(out, lookups, e.app_id, "app:updated", {"changes": changes(e)})


def _deleted(e: app.AppDeleted, out: Out, lookups: Lookups) -> None:
    _emit(out, lookups, e.app_id, "app:deleted", {})


HANDLERS: dict[type[Event], Handler] = {
    app.AppCreated: _created,
    app.AppUpdated: _updated,
    app.AppDeleted: _deleted,
}
