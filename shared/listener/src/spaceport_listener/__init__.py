"""Spaceport's Python listener SDK: Flatfile-style listeners against any Flatfile-compatible `/v1` API.

listener = FlatfileListener()
listener.use(record_hook("contacts", validate))
listener.run("http://127.0.0.1:8080/v1", "sk_…", environment_id="us_env_…")
"""

from spaceport_listener.client import ApiRequestError, Connection
from spaceport_listener.cursor import Cursor, FileCursor, MemoryCursor
from spaceport_listener.event import FlatfileEvent, MissingDataUrlError, SecretNotFoundError
from spaceport_listener.listener import FlatfileListener, Handler, Listener, Plugin
from spaceport_listener.matching import filter_matches, glob_match
from spaceport_listener.plugins import (
    SpaceSetup,
    Tick,
    bulk_record_hook,
    configure_space,
    job_handler,
    record_hook,
)
from spaceport_listener.record import Record
from spaceport_listener.runner import serve
from spaceport_listener.stream import Backoff, EventStream, StreamRejectedError

__all__ = [
    "ApiRequestError",
    "Backoff",
    "Connection",
    "Cursor",
    "EventStream",
    "FileCursor",
    "FlatfileEvent",
    "FlatfileListener",
    "Handler",
    "Listener",
    "MemoryCursor",
    "MissingDataUrlError",
    "Plugin",
    "Record",
    "SecretNotFoundError",
    "SpaceSetup",
    "StreamRejectedError",
    "Tick",
    "bulk_record_hook",
    "configure_space",
    "filter_matches",
    "glob_match",
    "job_handler",
    "record_hook",
    "serve",
]
