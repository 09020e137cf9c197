"""Command and query transport: NATS request/reply through FastStream, typed at both ends.

A service registers `handler(request) -> reply` for a request Struct type; the subject is
derived from the type's name (`<prefix>.<service>.<snake name>`) and the queue group is the
service, so any number of replicas share the work. Errors travel as `{code, message, key}` and
are raised again on the caller's side as the same SpaceportError subclass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats.errors
from faststream.nats import NatsBroker, NatsMessage

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


def encode_error(error: SpaceportError) -> bytes:
    return _encoder.encode(ReplyEnvelope(error=ErrorBody(error.code, error.message, error.key)))


class RpcServer:
    """Registers typed handlers on a FastStream NATS broker for one service."""

    def __init__(self, broker: NatsBroker, service: str, prefix: str = "cmd") -> None:
        self.broker = broker
        self.service = service
        self.prefix = prefix
        self.subjects: list[str] = []

    def handle(
        self, request_type: type[Req], *, workers: int = 1
    ) -> Callable[[Callable[[Req], Awaitable[object]]], Callable[[Req], Awaitable[object]]]:
        """Decorator: `@rpc.handle(CreateSpace) async def create(cmd) -> SpaceView`.

        A subject's requests are handled one at a time per process (FastStream's default) unless
        `workers` > 1: then up to `workers` run at once — for handlers that wait (long polls).
        """
        decoder = msgspec.json.Decoder(request_type)
        subject = request_subject(self.prefix, self.service, request_type)

        def register(fn: Callable[[Req], Awaitable[object]]) -> Callable[[Req], Awaitable[object]]:
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


async def _dispatch(decoder: msgspec.json.Decoder[Any], fn: Callable[[Any], Awaitable[object]], body: bytes) -> bytes:
    try:
        request = decoder.decode(body)
    except msgspec.DecodeError as error:  # ValidationError too
        return encode_error(ValidationFailedError(str(error)))
    except RecursionError:
        return encode_error(ValidationFailedError("request nested too deeply"))
    try:
        return encode_ok(await fn(request))
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

    async def request(
        self, service: str, request: msgspec.Struct, reply_type: type[Rep], *, timeout: float | None = None
    ) -> Rep:
        subject = request_subject(self.prefix, service, type(request))
        try:
            message = await self.broker.request(_encoder.encode(request), subject, timeout=timeout or self.timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            raise ServiceUnavailableError(f"the {service} service did not answer in time; retry shortly") from None
        except nats.errors.NoRespondersError:
            raise ServiceUnavailableError(f"the {service} service is not running; start it and retry") from None
        envelope = _reply_decoder.decode(message.body)
        if envelope.error is not None:
            raise error_from_code(envelope.error.code, envelope.error.message, envelope.error.key)
        decoder = self._decoders.get(reply_type)
        if decoder is None:
            decoder = self._decoders[reply_type] = msgspec.json.Decoder(reply_type)
        result: Rep = decoder.decode(envelope.ok)
        return result
