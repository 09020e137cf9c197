"""Request/reply over a real NATS server: typed replies, typed errors, no crashed subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
from faststream.nats import NatsBroker

from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.messaging import RpcClient, RpcServer, Tailed
from spaceport.testing.infra import InfraUrls


class Greet(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class Greeting(msgspec.Struct, frozen=True, kw_only=True):
    text: str


@pytest.fixture(params=[False, True], ids=["faststream", "direct"])
async def rpc(infra: InfraUrls, unique_name: str, request: pytest.FixtureRequest) -> AsyncIterator[RpcClient]:
    """Both kinds of server: FastStream subscribers (a bare broker's) and direct ones (a runtime's)."""
    server = NatsBroker(infra.nats_url, logger=None)
    handlers = RpcServer(server, unique_name, direct=request.param)

    @handlers.handle(Greet)
    async def greet(request: Greet) -> Greeting | Tailed:
        if request.name == "nobody":
            raise NotFoundError("no such person", key="name")
        if request.name == "twice":
            raise ConflictError("already greeted")
        if request.name == "bug":
            raise RuntimeError("a bug in the handler")
        if request.name.startswith("tail"):  # the bulk after the head, e.g. a page of records
            return Tailed(Greeting(text="head"), b'[{"json": "as it is"}]' * int(request.name[4:] or 1))
        return Greeting(text=f"hello {request.name}")

    await server.start()
    await handlers.start()
    client_broker = NatsBroker(infra.nats_url, logger=None)
    await client_broker.connect()
    yield RpcClient(client_broker, timeout=5)
    await client_broker.stop()
    await handlers.stop()
    await server.stop()


async def test_typed_reply(rpc: RpcClient, unique_name: str) -> None:
    assert await rpc.request(unique_name, Greet(name="ada"), Greeting) == Greeting(text="hello ada")


async def test_a_tailed_reply_hands_its_tail_over_unparsed(rpc: RpcClient, unique_name: str) -> None:
    reply, tail = await rpc.request_tailed(unique_name, Greet(name="tail"), Greeting)
    assert reply == Greeting(text="head")
    assert tail is not None and bytes(tail) == b'[{"json": "as it is"}]'
    big, tail = await rpc.request_tailed(unique_name, Greet(name="tail40000"), Greeting)  # ~1 MB
    assert big == Greeting(text="head")
    assert tail is not None and bytes(tail) == b'[{"json": "as it is"}]' * 40000
    plain, none = await rpc.request_tailed(unique_name, Greet(name="ada"), Greeting)
    assert (plain, none) == (Greeting(text="hello ada"), None)


async def test_a_tail_nobody_asked_for_is_an_error_not_dropped(rpc: RpcClient, unique_name: str) -> None:
    with pytest.raises(ServiceUnavailableError, match="tail"):
        await rpc.request(unique_name, Greet(name="tail"), Greeting)


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


class Wait(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    release: str | None = None
    delay: float | None = None  # answer after this many seconds instead of waiting for a release


@pytest.fixture
async def direct(infra: InfraUrls, unique_name: str) -> AsyncIterator[tuple[RpcServer, RpcClient, list[str]]]:
    """A direct server whose `Wait` handler, with 4 workers, waits until another request releases it."""
    server = NatsBroker(infra.nats_url, logger=None)
    handlers = RpcServer(server, unique_name, direct=True)
    released: dict[str, asyncio.Event] = {}
    finished: list[str] = []

    @handlers.handle(Wait, workers=4)
    async def wait(request: Wait) -> Greeting:
        if request.release is not None:
            released.setdefault(request.release, asyncio.Event()).set()
            return Greeting(text=f"released {request.release}")
        if request.delay is not None:
            await asyncio.sleep(request.delay)
            finished.append(request.key)
            return Greeting(text=f"{request.key} done")
        await released.setdefault(request.key, asyncio.Event()).wait()
        return Greeting(text=f"{request.key} done")

    await server.connect()
    await handlers.start()
    client_broker = NatsBroker(infra.nats_url, logger=None)
    await client_broker.connect()
    yield handlers, RpcClient(client_broker, timeout=5), finished
    await client_broker.stop()
    await handlers.stop()
    await server.stop()


async def test_a_direct_server_runs_up_to_its_workers_at_once(
    direct: tuple[RpcServer, RpcClient, list[str]], unique_name: str
) -> None:
    _, client, _ = direct
    waiting = asyncio.ensure_future(client.request(unique_name, Wait(key="a"), Greeting))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    # One at a time, this request would queue behind the waiting one and both would time out.
    assert (await client.request(unique_name, Wait(key="b", release="a"), Greeting)).text == "released a"
    assert (await waiting).text == "a done"


async def test_stopping_a_direct_server_answers_what_it_took_then_stops_listening(
    direct: tuple[RpcServer, RpcClient, list[str]], unique_name: str
) -> None:
    handlers, client, finished = direct
    slow = asyncio.ensure_future(client.request(unique_name, Wait(key="slow", delay=0.5), Greeting))
    await asyncio.sleep(0.1)  # it is under way
    await handlers.stop(timeout=5)
    assert finished == ["slow"]  # stop waited for the request under way ...
    assert (await slow).text == "slow done"  # ... and its answer went out
    with pytest.raises(ServiceUnavailableError):  # and nothing listens any more
        await client.request(unique_name, Wait(key="late", delay=0), Greeting, timeout=1)
