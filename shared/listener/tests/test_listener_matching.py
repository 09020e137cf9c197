"""Topic globs, filter objects (§5.4) and dispatch order."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from spaceport_listener import Connection, FlatfileEvent, FlatfileListener, filter_matches, glob_match

pytestmark = pytest.mark.unit


def job_event(job: str = "space:configure", **extra: Any) -> dict[str, Any]:
    domain, operation = job.split(":")
    return {
        "id": "us_evt_1",
        "topic": "job:ready",
        "domain": "job",
        "context": {"environmentId": "us_env_1", "spaceId": "us_sp_1", "jobId": "us_jb_1", "namespaces": []},
        "payload": {"job": job, "operation": operation, "domain": domain, "status": "ready"},
        **extra,
    }


def connection() -> Connection:
    return Connection("http://fake/v1", "sk_test", transport=httpx.MockTransport(lambda r: httpx.Response(404)))


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("job:ready", "job:ready", True),
        ("job:ready", "job:completed", False),
        ("job:*", "job:ready", True),
        ("job:*", "commit:created", False),
        ("*:created", "commit:created", True),
        ("*:created", "commit:completed", False),
        ("**", "job:ready", True),
        ("**", "anything", True),
        ("*", "job:ready", False),
        ("job:out*", "job:outcome-acknowledged", True),
        ("file:extract*", "file:extract-plugin-xlsx", True),
    ],
)
def test_topic_globs_use_colon_segments(pattern: str, topic: str, expected: bool) -> None:
    assert glob_match(pattern, topic) is expected


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"job": "space:configure"}, True),  # matches payload.job at any depth
        ({"job": "workbook:*"}, False),
        ({"job": "space:*"}, True),
        ({"payload.job": "space:configure"}, True),
        ({"context.job": "space:configure"}, False),  # a dotted key is a path, not "any depth"
        ({"operation": "configure", "status": "ready"}, True),
        ({"operation": "configure", "status": "complete"}, False),  # every key must match
        ({"job": ["workbook:submit", "space:configure"]}, True),  # a list matches any element
        ({"job": ["workbook:submit"]}, False),
        ({"jobId": "us_jb_1"}, True),
        ({"sheetSlug": None}, True),  # None matches a missing key
        ({"jobId": None}, False),
        ({"payload": {"job": "space:configure"}}, True),  # nested filters are flattened too
    ],
)
def test_filter_objects_match_like_flatfile(filter_: dict[str, Any], expected: bool) -> None:
    assert filter_matches(filter_, job_event()) is expected


def test_filter_on_namespaces_matches_list_elements_and_primitives_strictly() -> None:
    event = job_event(namespaces=["space:red"], attempts=1, flag=True)
    assert filter_matches({"namespaces": "space:red"}, event)
    assert not filter_matches({"namespaces": "space:blue"}, event)
    assert filter_matches({"attempts": 1}, event)
    assert not filter_matches({"flag": 1}, event)  # no JavaScript-style True == 1


async def test_handlers_run_serially_in_registration_order_sync_and_async() -> None:
    listener = FlatfileListener()
    calls: list[str] = []

    async def first(event: FlatfileEvent) -> None:
        calls.append(f"first:{event.topic}")

    listener.on("job:ready", {"job": "space:configure"}, first)
    listener.on(["commit:created", "job:*"], lambda event: calls.append("second"))
    listener.on("job:ready", {"job": "workbook:*"}, lambda event: calls.append("never"))

    @listener.on("**")
    def third(event: FlatfileEvent) -> None:
        calls.append("third")

    matched = await listener.dispatch_event(job_event(), connection())
    assert matched == 3
    assert calls == ["first:job:ready", "second", "third"]


async def test_namespace_and_filter_sub_listeners_share_the_root_order() -> None:
    listener = FlatfileListener()
    calls: list[str] = []
    listener.namespace("space:red", lambda red: red.on("job:*", lambda e: calls.append("red")))
    listener.on("job:*", lambda e: calls.append("all"))
    configure = listener.filter({"job": "space:configure"})
    configure.namespace(["space:red", "space:green"]).on("job:ready", lambda e: calls.append("red-configure"))
    listener.use(lambda lst: lst.on("**", lambda e: calls.append("plugin")))

    await listener.dispatch_event(job_event(namespaces=["space:red"]), connection())
    assert calls == ["red", "all", "red-configure", "plugin"]

    calls.clear()
    await listener.dispatch_event(job_event(namespaces=["space:blue"]), connection())
    assert calls == ["all", "plugin"]


async def test_a_raising_handler_is_logged_with_the_event_id_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = FlatfileListener()
    calls: list[str] = []

    def broken(event: FlatfileEvent) -> None:
        raise RuntimeError("boom")

    listener.on("**", broken)
    listener.on("**", lambda e: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="spaceport_listener"):
        await listener.dispatch_event(job_event(), connection())
    assert calls == ["after"]
    assert "us_evt_1" in caplog.text
    assert "boom" in caplog.text
