"""`FlatfileListener`: register handlers by topic glob and filter, then dispatch events to them (§5.4)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from spaceport_listener.client import Connection
from spaceport_listener.event import FlatfileEvent
from spaceport_listener.matching import Filter, filter_matches, topic_matches
from spaceport_listener.runner import serve

if TYPE_CHECKING:
    import httpx

    from spaceport_listener.cursor import Cursor

__all__ = ["FlatfileListener", "Handler", "Listener", "Plugin"]

log = logging.getLogger("spaceport_listener")

Handler = Callable[[FlatfileEvent], Awaitable[Any] | Any]
Plugin = Callable[["FlatfileListener"], Any]
Topics = str | Sequence[str]


@dataclass(frozen=True)
class Registration:
    topics: tuple[str, ...]
    filters: tuple[Filter, ...]
    handler: Handler

    def matches(self, src: Mapping[str, Any]) -> bool:
        return topic_matches(self.topics, str(src.get("topic", ""))) and all(
            filter_matches(filter_, src) for filter_ in self.filters
        )


class FlatfileListener:
    """Handlers run serially, in registration order, for every event their topic and filters match.

    Sub-listeners made by `filter()` and `namespace()` share the root's registry, so registration
    order is global and a sub-listener's handlers carry every enclosing filter.
    """

    def __init__(self, *, _root: FlatfileListener | None = None, _filters: tuple[Filter, ...] = ()) -> None:
        self._root = _root or self
        self._filters = _filters
        self._registrations: list[Registration] = []

    @overload
    def on(self, topics: Topics, filter_: Filter, handler: Handler, /) -> FlatfileListener: ...
    @overload
    def on(self, topics: Topics, handler: Handler, /) -> FlatfileListener: ...
    @overload
    def on(self, topics: Topics, filter_: Filter | None = None, /) -> Callable[[Handler], Handler]: ...

    def on(
        self, topics: Topics, filter_or_handler: Filter | Handler | None = None, handler: Handler | None = None, /
    ) -> FlatfileListener | Callable[[Handler], Handler]:
        """`on(topic(s), [filter], handler)`; without a handler it returns a decorator."""
        if callable(filter_or_handler):
            return self._register(topics, None, filter_or_handler)
        filter_ = filter_or_handler
        if handler is not None:
            return self._register(topics, filter_, handler)

        def decorate(func: Handler) -> Handler:
            self._register(topics, filter_, func)
            return func

        return decorate

    def filter(self, filter_: Filter, setup: Callable[[FlatfileListener], Any] | None = None) -> FlatfileListener:
        """A sub-listener whose handlers only see events matching `filter_`; `setup` receives it."""
        child = FlatfileListener(_root=self._root, _filters=(*self._filters, filter_))
        if setup is not None:
            setup(child)
        return child

    def namespace(
        self, namespaces: str | Sequence[str], setup: Callable[[FlatfileListener], Any] | None = None
    ) -> FlatfileListener:
        """`filter({"namespaces": namespaces})`: events from spaces/workbooks in those namespaces."""
        wanted = [namespaces] if isinstance(namespaces, str) else list(namespaces)
        return self.filter({"namespaces": wanted}, setup)

    def use(self, plugin: Plugin) -> FlatfileListener:
        """Apply a plugin (a function of the listener, e.g. `record_hook(...)`); returns self to chain."""
        plugin(self)
        return self

    def matching(self, src: Mapping[str, Any]) -> list[Handler]:
        return [reg.handler for reg in self._root._registrations if reg.matches(src)]

    async def dispatch_event(self, event: Mapping[str, Any] | FlatfileEvent, connection: Connection) -> int:
        """Run every matching handler in order; a raising handler is logged and the rest still run.

        Returns how many handlers matched. Only `Exception`s are caught: cancellation and process
        exits propagate, so the event is not considered handled and will be delivered again.
        """
        flatfile_event = event if isinstance(event, FlatfileEvent) else FlatfileEvent(event, connection)
        handlers = self.matching(flatfile_event.src)
        for handler in handlers:
            await _call(handler, flatfile_event)
        return len(handlers)

    async def serve(
        self,
        base_url: str,
        token: str,
        *,
        environment_id: str | None = None,
        space_id: str | None = None,
        cursor: Cursor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        stop: asyncio.Event | None = None,
        acknowledge: bool = True,
    ) -> None:
        """Consume `GET /v1/events/stream` until `stop` is set (see `spaceport_listener.runner.serve`)."""
        await serve(
            self,
            base_url,
            token,
            environment_id=environment_id,
            space_id=space_id,
            cursor=cursor,
            transport=transport,
            http=http,
            stop=stop,
            acknowledge=acknowledge,
        )

    def run(
        self,
        base_url: str,
        token: str,
        *,
        environment_id: str | None = None,
        space_id: str | None = None,
        cursor: Cursor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Blocking entry point: `asyncio.run(self.serve(...))`, returning quietly on Ctrl-C."""
        coroutine = self.serve(
            base_url, token, environment_id=environment_id, space_id=space_id, cursor=cursor, transport=transport
        )
        try:
            asyncio.run(coroutine)
        except KeyboardInterrupt:
            log.info("listener stopped")

    def _register(self, topics: Topics, filter_: Filter | None, handler: Handler) -> FlatfileListener:
        names = (topics,) if isinstance(topics, str) else tuple(topics)
        filters = self._filters if filter_ is None else (*self._filters, filter_)
        self._root._registrations.append(Registration(names, filters, handler))
        return self


Listener = FlatfileListener


async def _call(handler: Handler, event: FlatfileEvent) -> None:
    try:
        result = handler(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("handler %s failed on event %s (%s)", _name(handler), event.id, event.topic)


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
