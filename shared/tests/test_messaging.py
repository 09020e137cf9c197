"""Request/reply over a real NATS server: typed replies, typed errors, no crashed subscriber."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from faststream.nats import NatsBroker

from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.messaging import RpcClient, RpcServer
from spaceport.testing.infra import InfraUrls


class Greet(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class Greeting(msgspec.Struct, frozen=True, kw_only=True):
    text: str


@pytest.fixture
async def rpc(infra: InfraUrls, unique_name: str) -> AsyncIterator[RpcClient]:
    server = NatsBroker(infra.nats_url, logger=None)
    handlers = RpcServer(server, unique_name)

    @handlers.handle(Greet)
    async def greet(request: Greet) -> Greeting:
        if request.name == "nobody":
            raise NotFoundError("no such person", key="name")
        if request.name == "twice":
            raise ConflictError("already greeted")
        if request.name == "bug":
            raise RuntimeError("a bug in the handler")
        return Greeting(text=f"hello {request.name}")

    await server.start()
    client_broker = NatsBroker(infra.nats_url, logger=None)
    await client_broker.connect()
    yield RpcClient(client_broker, timeout=5)
    await client_broker.stop()
    await server.stop()


async def test_typed_reply(rpc: RpcClient, unique_name: str) -> None:
    assert await rpc.request(unique_name, Greet(name="ada"), Greeting) == Greeting(text="hello ada")


async def test_typed_errors_cross_the_wire(rpc: RpcClient, unique_name: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        await rpc.request(unique_name, Greet(name="nobody"), Greeting)
    assert (missing.value.status, missing.value.key) == (404, "name")
    with pytest.raises(ConflictError):
        await rpc.request(unique_name, Greet(name="twice"), Greeting)


async def test_a_handler_bug_answers_an_error_and_the_subscriber_survives(rpc: RpcClient, unique_name: str) -> None:
    with pytest.raises(ServiceUnavailableError) as failed:
        await rpc.request(unique_name, Greet(name="bug"), Greeting)
    assert "a bug" not in failed.value.message  # internals stay in the logs
    assert await rpc.request(unique_name, Greet(name="still here"), Greeting) == Greeting(text="hello still here")


async def test_a_malformed_request_is_a_validation_error(rpc: RpcClient, unique_name: str) -> None:
    class WrongGreet(msgspec.Struct, frozen=True, kw_only=True):
        name: int

    WrongGreet.__name__ = "Greet"  # same subject, wrong payload type
    with pytest.raises(ValidationFailedError):
        await rpc.request(unique_name, WrongGreet(name=5), Greeting)


async def test_no_service_listening_is_service_unavailable(rpc: RpcClient) -> None:
    with pytest.raises(ServiceUnavailableError):
        await rpc.request("nobody_listens", Greet(name="x"), Greeting, timeout=1)
