"""The SSE decoder: multi-line data, comments, ids, retry, CRLF and unterminated messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from spaceport_listener.sse import ServerSentEvent, SSEDecoder, iter_sse

pytestmark = pytest.mark.unit


def decode_all(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    messages = [decoder.decode(line) for line in text.splitlines()]
    return [message for message in messages if message is not None]


def test_multi_line_data_is_joined_with_newlines() -> None:
    [message] = decode_all('id: us_evt_1\nevent: job:ready\ndata: {"a":\ndata:  1}\n\n')
    assert message == ServerSentEvent(event="job:ready", data='{"a":\n 1}', id="us_evt_1", retry=None)


def test_comments_are_heartbeats_and_dispatch_nothing() -> None:
    assert decode_all(": ping\n\n: ping\n\n") == []
    [message] = decode_all(": hello\ndata: x\n: inside\n\n")
    assert message.data == "x"
    assert message.event == "message"


def test_the_last_event_id_carries_over_and_retry_is_parsed() -> None:
    messages = decode_all("retry: 2500\nid: 1\ndata: a\n\ndata: b\n\nid: 3\ndata:c\n\n")
    assert [(m.id, m.data) for m in messages] == [("1", "a"), ("1", "b"), ("3", "c")]
    assert messages[0].retry == 2500


def test_crlf_lines_and_fields_without_space_are_accepted() -> None:
    decoder = SSEDecoder()
    assert decoder.decode("id:7\r\n") is None
    assert decoder.decode("data:value\r\n") is None
    message = decoder.decode("\r\n")
    assert message is not None
    assert (message.id, message.data) == ("7", "value")


async def test_an_unterminated_message_at_the_end_of_the_stream_is_dropped() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["id: 1", "data: whole", "", "id: 2", "data: half"]:
            yield line

    messages = [message async for message in iter_sse(lines())]
    assert [m.data for m in messages] == ["whole"]
