"""Command and query transport: NATS request/reply, typed at both ends.

A service registers `handler(request) -> reply` for a request Struct type; the subject is
derived from the type's name (`<prefix>.<service>.<snake name>`) and the queue group is the
service, so any number of replicas share the work. Errors travel as `{code, message, key}` and
are raised again on the caller's side as the same SpaceportError subclass.

Both ends speak plain NATS on the broker's connection (nats-py), without FastStream's per-message
pipeline (middlewares, dependency injection, a worker thread for the message argument), which
cost more than the handlers of most queries. The trace context still crosses in the headers: the
client injects it while a span records, the server continues it in a `<subject> process` span.
A service runtime's server (`direct=True`) subscribes in `start()`; a server made without it
registers FastStream subscribers, live once the broker starts (tests that start a bare broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import nats.errors
from faststream.nats import NatsBroker, NatsMessage
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace

from spaceport import subjects
from spaceport.errors import (
    ServiceUnavailableError,
    SpaceportError,
    ValidationFailedError,
    error_from_code,
)

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep")


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    key: str | None = None


class ReplyEnvelope(msgspec.Struct, frozen=True):
    ok: msgspec.Raw = msgspec.Raw(b"null")  # msgspec.Raw cannot sit in a union with None
    error: ErrorBody | None = None


_reply_decoder = msgspec.json.Decoder(ReplyEnvelope)
_encoder = msgspec.json.Encoder()


def request_subject(prefix: str, service: str, request_type: type[msgspec.Struct]) -> str:
    return subjects.command_subject(prefix, service, request_type.__name__)


def encode_ok(value: object) -> bytes:
    return b'{"ok":' + _encoder.encode(value) + b"}"


# A tailed reply: TAIL_MARK, the head's length (4 bytes, big-endian), the head (an ok envelope),
# then the tail's bytes as they are. No JSON reply starts with a NUL byte.
TAIL_MARK = b"\x00"


@dataclass(frozen=True, slots=True)
class Tailed:
    """A handler's reply whose bulk (`tail`: e.g. a page of records, already JSON) travels after
    its JSON head instead of inside it, so the caller takes it without parsing it
    (`RpcClient.request_tailed`). A handler returns one only to a request that asked for it."""

    head: object
    tail: bytes | memoryview


def encode_reply(value: object) -> bytes:
    if isinstance(value, Tailed):
        head = encode_ok(value.head)
        return b"".join((TAIL_MARK, len(head).to_bytes(4, "big"), head, value.tail))
    return encode_ok(value)


def split_tailed(data: bytes) -> tuple[bytes | memoryview, memoryview | None]:
    """(the reply's JSON envelope, its tail or None when the reply has none)."""
    if data[:1] != TAIL_MARK:
        return data, None
    end = 5 + int.from_bytes(data[1:5], "big")
    view = memoryview(data)
    return view[5:end], view[end:]


def encode_error(error: SpaceportError) -> bytes:
    return _encoder.encode(ReplyEnvelope(error=ErrorBody(error.code, error.message, error.key)))


class RpcServer:
    """Registers typed handlers for one service on its broker's NATS connection."""

    def __init__(self, broker: NatsBroker, service: str, prefix: str = "cmd", *, direct: bool = False) -> None:
        self.broker = broker
        self.service = service
        self.prefix = prefix
        self.direct = direct  # subscribe on the plain connection in `start()` (a service runtime's)
        self.subjects: list[str] = []
        self._routes: list[_Route] = []
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(
        self, request_type: type[Req], *, workers: int = 1
    ) -> Callable[[Callable[[Req], Awaitable[object]]], Callable[[Req], Awaitable[object]]]:
        """Decorator: `@rpc.handle(CreateSpace) async def create(cmd) -> SpaceView`.

        A subject's requests are handled one at a time per process unless `workers` > 1: then up
        to `workers` run at once — for queries and for handlers that wait (long polls).
        """
        decoder = msgspec.json.Decoder(request_type)
        subject = request_subject(self.prefix, self.service, request_type)

        def register(fn: Callable[[Req], Awaitable[object]]) -> Callable[[Req], Awaitable[object]]:
            if self.direct:
                if self._subscriptions:
                    raise RuntimeError(f"{subject}: register handlers before the server starts")
                self._routes.append(_Route(subject, decoder, fn, workers))
            else:

                async def endpoint(msg: NatsMessage) -> bytes:
                    return await _dispatch(decoder, fn, msg.body)

                endpoint.__name__ = fn.__name__
                if workers > 1:
                    self.broker.subscriber(subject, queue=self.service, max_workers=workers)(endpoint)
                else:
                    self.broker.subscriber(subject, queue=self.service)(endpoint)
            self.subjects.append(subject)
            return fn

        return register

    async def start(self) -> None:
        """Subscribe every registered handler (direct servers; the broker is connected)."""
        if self._subscriptions:
            return
        connection = self.broker.connection
        for route in self._routes:
            self._subscriptions.append(
                await connection.subscribe(route.subject, queue=self.service, cb=self._callback(connection, route))
            )

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking requests, then let those received answer (for up to `timeout` seconds)."""
        subscriptions, self._subscriptions = self._subscriptions, []
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.drain() for s in subscriptions)), timeout)  # type: ignore[no-untyped-call]
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()

    def _callback(self, connection: Client, route: _Route) -> Callable[[Msg], Awaitable[None]]:
        async def answer(msg: Msg) -> None:
            reply = await _traced(route, msg)
            if msg.reply:
                with contextlib.suppress(nats.errors.Error):  # the connection is closing: the caller times out
                    await connection.publish(msg.reply, reply)

        if route.workers <= 1:
            return answer  # nats-py awaits each callback before it hands over the next message
        slots = asyncio.Semaphore(route.workers)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            slots.release()

        async def spawn(msg: Msg) -> None:
            await slots.acquire()  # all workers busy: the next messages wait in the subscription
            task = asyncio.create_task(answer(msg))
            self._tasks.add(task)
            task.add_done_callback(done)

        return spawn


@dataclass(frozen=True, slots=True)
class _Route:
    subject: str
    decoder: msgspec.json.Decoder[Any]
    fn: Callable[[Any], Awaitable[object]]
    workers: int


_tracer = trace.get_tracer("spaceport.messaging")


async def _traced(route: _Route, msg: Msg) -> bytes:
    """The reply; in a CONSUMER span continuing the caller's trace when the request carries one."""
    headers = msg.headers
    if not headers or "traceparent" not in headers:
        return await _dispatch(route.decoder, route.fn, msg.data)
    with _tracer.start_as_current_span(
        f"{route.subject} process",
        context=propagate.extract(headers),
        kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.system": "nats", "messaging.destination.name": route.subject},
    ):
        return await _dispatch(route.decoder, route.fn, msg.data)


async def _dispatch(decoder: msgspec.json.Decoder[Any], fn: Callable[[Any], Awaitable[object]], body: bytes) -> bytes:
    try:
        request = decoder.decode(body)
    except msgspec.DecodeError as error:  # ValidationError too
        return encode_error(ValidationFailedError(str(error)))
    except RecursionError:
        return encode_error(ValidationFailedError("request nested too deeply"))
    try:
        return encode_reply(await fn(request))
    except SpaceportError as error:
        return encode_error(error)
    except Exception:
        # A bug must not crash the subscriber or leak internals: log it, answer 500-ish.
        log.exception("handler %s failed", getattr(fn, "__name__", fn))
        return encode_error(ServiceUnavailableError("internal error; the operator's logs have details"))


class RpcClient:
    """Sends typed requests to services and decodes typed replies."""

    def __init__(self, broker: NatsBroker, prefix: str = "cmd", timeout: float = 10.0) -> None:
        self.broker = broker
        self.prefix = prefix
        self.timeout = timeout
        self._decoders: dict[object, msgspec.json.Decoder[Any]] = {}
        self._subjects: dict[tuple[str, type[msgspec.Struct]], str] = {}

    async def request(
        self, service: str, request: msgspec.Struct, reply_type: type[Rep], *, timeout: float | None = None
    ) -> Rep:
        reply, tail = await self.request_tailed(service, request, reply_type, timeout=timeout)
        if tail is not None:
            raise ServiceUnavailableError(f"the {service} service answered with a tail nobody asked for")
        return reply

    async def request_tailed(
        self, service: str, request: msgspec.Struct, reply_type: type[Rep], *, timeout: float | None = None
    ) -> tuple[Rep, memoryview | None]:
        """`request`, and the reply's tail (`Tailed`) as it came, unparsed; None when it has none."""
        subject = self._subjects.get((service, type(request)))
        if subject is None:
            subject = self._subjects[service, type(request)] = request_subject(self.prefix, service, type(request))
        headers: dict[str, str] | None = None
        if trace.get_current_span().is_recording():  # carry the trace to the service
            headers = {}
            propagate.inject(headers)
        try:
            message = await self.broker.connection.request(
                subject, _encoder.encode(request), timeout=timeout or self.timeout, headers=headers
            )
        except (TimeoutError, nats.errors.TimeoutError):
            raise ServiceUnavailableError(f"the {service} service did not answer in time; retry shortly") from None
        except nats.errors.NoRespondersError:
            raise ServiceUnavailableError(f"the {service} service is not running; start it and retry") from None
        head, tail = split_tailed(message.data)
        envelope = _reply_decoder.decode(head)
        if envelope.error is not None:
            raise error_from_code(envelope.error.code, envelope.error.message, envelope.error.key)
        decoder = self._decoders.get(reply_type)
        if decoder is None:
            decoder = self._decoders[reply_type] = msgspec.json.Decoder(reply_type)
        result: Rep = decoder.decode(envelope.ok)
        return result, tail
