"""One authenticated connection to a Flatfile-compatible `/v1` API, shared by every event.

Raw calls (events, the SSE stream, `dataUrl`, secrets) go through `httpx`; everything else is
reachable through `Connection.api`, the official `flatfile` SDK client, so user code reads like
the Flatfile docs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from flatfile.client import AsyncFlatfile

__all__ = ["ApiRequestError", "Connection", "split_base_url"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0)


class ApiRequestError(Exception):
    """A non-2xx answer from the API; `message` is the first `errors[].message` when there is one."""

    def __init__(self, method: str, url: str, status_code: int, message: str, body: Any = None) -> None:
        super().__init__(f"{method} {url} -> {status_code}: {message}")
        self.method = method
        self.url = url
        self.status_code = status_code
        self.message = message
        self.body = body


def split_base_url(base_url: str) -> tuple[str, str]:
    """`(api_url, root_url)` for a base given either as `{ROOT}` or `{ROOT}/v1` (§1.1).

    `api_url` ends in `/v1` (no slash); `root_url` ends in `/` so a relative `dataUrl` joins onto it.
    """
    base = base_url.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    return f"{root}/v1", f"{root}/"


class Connection:
    """Base URLs, token and the HTTP clients; pass `transport` (or `http`) to test without sockets."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url, self.root_url = split_base_url(base_url)
        self.token = token
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(transport=transport, timeout=DEFAULT_TIMEOUT)
        self.headers = {"Authorization": f"Bearer {token}", "X-Disable-Hooks": "true"}
        self._api: AsyncFlatfile | None = None

    @property
    def api(self) -> AsyncFlatfile:
        """The official SDK client, on the same base URL, token and HTTP transport."""
        if self._api is None:
            self._api = AsyncFlatfile(base_url=self.api_url, token=self.token, httpx_client=self.http)
        return self._api

    def url_for(self, path: str) -> str:
        """An absolute URL for `path`: absolute URLs pass through, `v1/…` joins the root, others `/v1`."""
        if path.startswith(("http://", "https://")):
            return path
        relative = path.lstrip("/")
        if relative == "v1" or relative.startswith(("v1/", "v1?")):
            return f"{self.root_url}{relative}"
        return f"{self.api_url}/{relative}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call the API and return the body's `data` (or the whole body when it has none)."""
        url = self.url_for(path)
        query = {key: value for key, value in (params or {}).items() if value is not None}
        # merge, not replace: a `dataUrl` already carries its own query (`?commitId=…`)
        target = httpx.URL(url).copy_merge_params(query)
        response = await self.http.request(method, target, json=json, headers={**self.headers, **(headers or {})})
        body = _decode(response)
        if response.is_error:
            raise ApiRequestError(method, url, response.status_code, error_message(body), body)
        if isinstance(body, dict) and "data" in body:
            return body["data"]
        return body

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def error_message(body: Any) -> str:
    """The first `errors[].message` of a Flatfile-style error body, else the body as text."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", errors[0]))
    return str(body)
