"""`FlatfileEvent`: what every handler receives — the event JSON plus its API helpers (§5.1, §6.1)."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from spaceport_listener.client import Connection

if TYPE_CHECKING:
    from flatfile.client import AsyncFlatfile

__all__ = ["FlatfileEvent", "MissingDataUrlError", "SecretNotFoundError"]


class SecretNotFoundError(KeyError):
    """`event.secrets(name)` found no secret of that name for the event's environment and space."""

    def __init__(self, name: str, environment_id: str | None, space_id: str | None) -> None:
        super().__init__(f"secret {name!r} not found (environmentId={environment_id}, spaceId={space_id})")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class MissingDataUrlError(ValueError):
    """The event has no `dataUrl`, so there is nothing to read or update."""


class DataRequest:
    """`await event.data` reads the `dataUrl`; `await event.data(pageSize=…)` adds query parameters."""

    def __init__(self, event: FlatfileEvent) -> None:
        self._event = event

    def __await__(self) -> Generator[Any, None, Any]:
        return self._event.fetch_data().__await__()

    async def __call__(self, **params: Any) -> Any:
        return await self._event.fetch_data(params)


class FlatfileEvent:
    """One event as delivered: read-only accessors over the JSON, and async helpers for the API."""

    def __init__(self, src: Mapping[str, Any], connection: Connection) -> None:
        self.src: Mapping[str, Any] = src
        self.connection = connection
        self._secrets: dict[str, str] | None = None

    @property
    def id(self) -> str:
        return str(self.src.get("id", ""))

    @property
    def topic(self) -> str:
        return str(self.src.get("topic", ""))

    @property
    def domain(self) -> str | None:
        domain = self.src.get("domain")
        return None if domain is None else str(domain)

    @property
    def context(self) -> Mapping[str, Any]:
        return _mapping(self.src.get("context"))

    @property
    def payload(self) -> Mapping[str, Any]:
        return _mapping(self.src.get("payload"))

    @property
    def namespaces(self) -> list[str]:
        namespaces = self.src.get("namespaces") or self.context.get("namespaces") or []
        return [str(namespace) for namespace in namespaces]

    @property
    def data_url(self) -> str | None:
        data_url = self.src.get("dataUrl")
        return str(data_url) if data_url else None

    @property
    def created_at(self) -> str | None:
        created_at = self.src.get("createdAt")
        return None if created_at is None else str(created_at)

    @property
    def api(self) -> AsyncFlatfile:
        """The official `flatfile` SDK client (`AsyncFlatfile`), authenticated like the listener."""
        return self.connection.api

    @property
    def data(self) -> DataRequest:
        return DataRequest(self)

    async def fetch_data(self, params: Mapping[str, Any] | None = None) -> Any:
        """GET `{root}/{dataUrl}` and return its `data` (for commits: `{"records": [...]}`)."""
        return await self.connection.request("GET", self._require_data_url(), params=params)

    async def update(self, records: Sequence[Mapping[str, Any]]) -> Any:
        """PUT records to the `dataUrl`'s records path; `X-Disable-Hooks` keeps it from re-firing hooks."""
        parts = urlsplit(self._require_data_url())
        path = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return await self.connection.request("PUT", path, json=list(records))

    async def secrets(self, name: str) -> str:
        """The value of secret `name` for this event's environment and space (fetched once per event)."""
        if self._secrets is None:
            self._secrets = await self._load_secrets()
        if name not in self._secrets:
            raise SecretNotFoundError(name, self.context.get("environmentId"), self.context.get("spaceId"))
        return self._secrets[name]

    async def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A raw API call relative to `/v1` (`v1/…` and absolute URLs also work); returns `data`."""
        return await self.connection.request(method, path, json=json, params=params, headers=headers)

    async def ack(self) -> None:
        """Mark the event acknowledged (`POST /v1/events/{id}/ack`)."""
        await self.connection.request("POST", f"events/{self.id}/ack")

    async def _load_secrets(self) -> dict[str, str]:
        params = {"environmentId": self.context.get("environmentId"), "spaceId": self.context.get("spaceId")}
        rows = await self.connection.request("GET", "secrets", params=params) or []
        # space-scoped secrets override environment ones of the same name (§8), so they go last
        ordered = sorted(rows, key=lambda row: row.get("spaceId") is not None)
        return {str(row["name"]): str(row.get("value", "")) for row in ordered if "name" in row}

    def _require_data_url(self) -> str:
        if self.data_url is None:
            raise MissingDataUrlError(f"event {self.id} ({self.topic}) has no dataUrl")
        return self.data_url

    def __repr__(self) -> str:
        return f"FlatfileEvent(id={self.id!r}, topic={self.topic!r})"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
