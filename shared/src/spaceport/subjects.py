"""Subject names, derived in one place from the same words as the events and commands.

Events:   `<prefix>.<scope_id>.<aggregate>.<aggregate_id>.<event_snake>`
          scope_id is the space id, or the environment id for environment-level facts, so one
          filter (`<prefix>.<scope_id>.>`) reads a space's whole history in order.
Commands: `<prefix>.<service>.<command_snake>` (request/reply, queue group = service name).
"""

from __future__ import annotations

import re
from functools import lru_cache

from spaceport.events import snake

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")


def check_token(value: str, what: str) -> str:
    """Subject tokens may not contain dots, wildcards or spaces; ids never do."""
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} cannot be used in a subject")
    return value


def event_subject(prefix: str, scope_id: str, aggregate: str, aggregate_id: str, type_name: str) -> str:
    return ".".join(
        (
            prefix,
            check_token(scope_id, "scope id"),
            check_token(aggregate, "aggregate"),
            check_token(aggregate_id, "aggregate id"),
            snake(type_name),
        )
    )


def aggregate_filter(prefix: str, scope_id: str, aggregate: str, aggregate_id: str) -> str:
    return f"{prefix}.{check_token(scope_id, 'scope id')}.{aggregate}.{check_token(aggregate_id, 'aggregate id')}.*"


def scope_filter(prefix: str, scope_id: str) -> str:
    return f"{prefix}.{check_token(scope_id, 'scope id')}.>"


def aggregate_kind_filter(prefix: str, aggregate: str) -> str:
    return f"{prefix}.*.{check_token(aggregate, 'aggregate')}.>"


def command_subject(prefix: str, service: str, command: str) -> str:
    return f"{prefix}.{check_token(service, 'service')}.{snake(command)}"


@lru_cache(maxsize=4096)
def subject_matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching: `*` matches one token, a final `>` one or more."""
    wanted, parts = filter_subject.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(wanted) == len(parts)
