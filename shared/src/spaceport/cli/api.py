"""The CLI's HTTP client on the `/v1` API: one-line errors for every way a call can fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from spaceport.cli.errors import CliError

DEFAULT_API_URL = "http://127.0.0.1:8080/v1"  # `make run`'s gateway (GATEWAY_PORT)
PAGE = 1000  # list pages (spaces, versions)
TRANSPORT: httpx.BaseTransport | None = None  # tests put an `httpx.MockTransport` here


class Api:
    """`/v1` calls with a token; every failure becomes a `CliError` (never a traceback)."""

    def __init__(
        self, url: str, token: str | None, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not token:
            raise CliError("no API key: pass --token or set SPACEPORT_API_KEY (or FLATFILE_API_KEY)")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport or TRANSPORT)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as problem:
            raise self._unreachable(problem) from None
        check(response, f"{method} {path}")
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._data(self.request("GET", path, params=_clean(params)))

    def post(self, path: str, body: Any = None) -> Any:
        return self._data(self.request("POST", path, json=body if body is not None else {}))

    def delete(self, path: str) -> Any:
        return self._data(self.request("DELETE", path))

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[httpx.Response]:
        """A streamed GET (a CSV download); the status is checked before the body is read."""
        try:
            with self.http.stream("GET", path, params=_clean(params)) as response:
                if response.status_code >= 400:
                    response.read()
                check(response, f"GET {path}")
                yield response
        except httpx.HTTPError as problem:
            raise self._unreachable(problem) from None

    def _unreachable(self, problem: httpx.HTTPError) -> CliError:
        if isinstance(problem, httpx.TimeoutException):
            return CliError(f"{self.url} did not answer in time ({type(problem).__name__})")
        if isinstance(problem, httpx.TransportError):
            return CliError(f"cannot reach {self.url}: is `make run` running?")
        return CliError(f"the call to {self.url} failed: {problem}")

    @staticmethod
    def _data(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            raise CliError(f"the API answered {response.status_code} with a body that is not JSON") from None
        return body.get("data", body) if isinstance(body, dict) else body


def message(response: httpx.Response) -> str:
    """The first `errors[].message` of an error answer (or its status text)."""
    try:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0]
            key = first.get("key")
            return f"{first.get('message', '')}" + (f" ({key})" if key else "")
    except ValueError:
        pass
    return response.reason_phrase or str(response.status_code)


class ApiError(CliError):
    """An error answer; `status` lets a command tell e.g. an endpoint not deployed (404) apart."""

    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.status = status


def check(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = message(response)
    if status == 401:
        raise ApiError(f"the API key was refused (401): {detail}", status)
    if status == 403:
        raise ApiError(f"the API key may not do this (403): {detail}", status)
    if status == 404:
        raise ApiError(f"not found (404, {what}): {detail}", status)
    raise ApiError(f"{what} answered {status}: {detail}", status)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def pages(api: Api, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paged list (`{data:[…], pagination:{pageCount}}`), page by page."""
    number = 1
    while True:
        response = api.request("GET", path, params=_clean({**params, "pageSize": PAGE, "pageNumber": number}))
        body = response.json()
        items = body.get("data") or []
        yield from items
        pagination = body.get("pagination") or {}
        if not items or number >= int(pagination.get("pageCount") or 1):
            return
        number += 1
