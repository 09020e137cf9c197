"""The `spaceport` CLI's parsing and error messages (click's CliRunner; the API is an
`httpx.MockTransport`, nothing else runs)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from spaceport import cli
from spaceport.cli import api as cli_api
from spaceport.cli.app import root

Handler = Callable[[httpx.Request], httpx.Response]


def invoke(args: list[str], *, input: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`cli.run(args)` inside CliRunner's isolation: (exit status, stdout, stderr)."""
    runner = CliRunner()
    with runner.isolation(input=input, env={"SPACEPORT_API_KEY": "sk_test", **(env or {})}) as (out, err, _):
        code = cli.run(args)
        sys.stdout.flush()
        sys.stderr.flush()
    return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], list[httpx.Request]]:
    """Serve the API with a handler; returns the list of requests it received."""

    def serve(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        monkeypatch.setattr(cli_api, "TRANSPORT", httpx.MockTransport(record))
        return seen

    return serve


def error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"key": None, "message": message}]})


@pytest.mark.parametrize(
    "command",
    [[], ["rebuild"], ["replay"], ["projections", "rebuild"], ["metrics", "space"], ["events", "tail"],
     ["export"], ["cleanup"], ["history"], ["restore"]],
)  # fmt: skip
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(root, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_usage_errors_exit_2_without_a_traceback() -> None:
    result = CliRunner().invoke(root, ["export", "us_sp_x"])  # --out missing
    assert result.exit_code == 2
    assert "--out" in result.output and "Traceback" not in result.output
    code, _, err = invoke(["export", "us_sp_x", "--out", "d", "--format", "xml"])
    assert code == 2 and "xml" in err


def test_rebuild_needs_a_service_or_all() -> None:
    assert invoke(["rebuild"])[0::2] == (1, "error: name one SERVICE or pass --all\n")
    assert invoke(["rebuild", "job", "--all"])[0] == 1
    assert "--projection needs one SERVICE" in invoke(["replay", "--all", "--projection", "feed"])[2]


def test_unknown_service() -> None:
    code, _, err = invoke(["rebuild", "nosuch"])
    assert (code, err) == (1, "error: no service named 'nosuch'\n")


def test_connection_refused_names_the_url(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/v1"
    code, _, err = invoke(["export", "us_sp_x", "--out", str(tmp_path), "--api-url", url])
    assert (code, err) == (1, f"error: cannot reach {url}: is `make run` running?\n")


def test_nats_refused_is_one_line() -> None:
    code, _, err = invoke(["events", "tail"], env={"NATS_URL": "nats://127.0.0.1:1"})
    assert code == 1 and err.startswith("error: cannot reach NATS at nats://127.0.0.1:1") and err.count("\n") == 1


def test_missing_token(served: Callable[[Handler], list[httpx.Request]]) -> None:
    served(lambda _: httpx.Response(200, json={"data": []}))
    code, _, err = invoke(["history", "us_sp_x"], env={"SPACEPORT_API_KEY": "", "FLATFILE_API_KEY": ""})
    assert code == 1 and "no API key" in err


def test_refused_key(served: Callable[[Handler], list[httpx.Request]]) -> None:
    seen = served(lambda _: error(401, "Invalid API key"))
    code, _, err = invoke(["history", "us_sp_x", "--token", "sk_bad"])
    assert (code, err) == (1, "error: the API key was refused (401): Invalid API key\n")
    assert seen[0].headers["Authorization"] == "Bearer sk_bad"


def test_flatfile_api_key_is_the_fallback(served: Callable[[Handler], list[httpx.Request]]) -> None:
    seen = served(lambda _: httpx.Response(200, json={"data": [], "pagination": {"pageCount": 1}}))
    code, _, _ = invoke(["history", "us_sp_x", "--json"], env={"SPACEPORT_API_KEY": "", "FLATFILE_API_KEY": "sk_ff"})
    assert code == 0 and seen[0].headers["Authorization"] == "Bearer sk_ff"


def test_history_prints_versions(served: Callable[[Handler], list[httpx.Request]]) -> None:
    version = {
        "id": "us_vr_1", "spaceId": "us_sp_x", "sequence": 7, "firstSequence": 5, "createdAt": "2026-12-01T10:00:00Z",
        "actorId": "us_key_1", "kind": "records", "sheetId": "us_sh_1", "topics": ["commit:created"],
        "counts": {"events": {"RecordsCreated": 2}, "records": 20},
    }  # fmt: skip
    seen = served(lambda _: httpx.Response(200, json={"data": [version], "pagination": {"pageCount": 1}}))
    code, out, _ = invoke(["history", "us_sp_x", "--sheet", "us_sh_1", "--limit", "5", "--json"])
    assert code == 0 and json.loads(out) == [version]
    assert seen[0].url.path == "/v1/spaces/us_sp_x/versions"
    assert dict(seen[0].url.params) == {"pageSize": "5", "pageNumber": "1", "sheetId": "us_sh_1"}
    code, out, _ = invoke(["history", "us_sp_x"])
    assert code == 0 and "us_vr_1" in out and "2 RecordsCreated; 20 records" in out


def test_history_without_the_endpoint_exits_2(served: Callable[[Handler], list[httpx.Request]]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/versions"):
            return error(404, "Not Found")
        return httpx.Response(200, json={"data": {"id": "us_sp_x"}})

    served(handler)
    code, _, err = invoke(["history", "us_sp_x"])
    assert code == 2 and "does not list versions" in err


def test_history_of_an_unknown_space_is_not_exit_2(served: Callable[[Handler], list[httpx.Request]]) -> None:
    served(lambda _: error(404, "space us_sp_x not found"))
    code, _, err = invoke(["history", "us_sp_x"])
    assert code == 1 and "space us_sp_x not found" in err


def test_restore_needs_exactly_one_moment() -> None:
    assert "exactly one of --version, --at or --sequence" in invoke(["restore", "us_sp_x"])[2]
    assert invoke(["restore", "us_sp_x", "--version", "us_vr_1", "--at", "2026-01-01"])[0] == 1
    assert "is not an ISO-8601 time" in invoke(["restore", "us_sp_x", "--at", "yesterday"])[2]


@pytest.mark.parametrize("status", [404, 405])
def test_restore_on_a_server_without_it(served: Callable[[Handler], list[httpx.Request]], status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/restore"):
            return error(status, "Not Found" if status == 404 else "Method Not Allowed")
        return httpx.Response(200, json={"data": {"id": "us_sp_x"}})

    served(handler)
    code, _, err = invoke(["restore", "us_sp_x", "--at", "2026-12-01T10:00:00Z", "--preview"])
    assert code == 1 and err == "error: this server does not support restore yet\n"


def test_restore_preview_table(served: Callable[[Handler], list[httpx.Request]]) -> None:
    sheet = {"sheetId": "us_sh_1", "workbookId": "us_wb_1", "position": 9, "createdSince": 3, "updatedSince": 4,
             "deletedSince": 5, "before": 12}  # fmt: skip
    seen = served(
        lambda _: httpx.Response(200, json={"data": {"spaceId": "us_sp_x", "preview": True, "sheets": [sheet]}})
    )
    code, out, _ = invoke(["restore", "us_sp_x", "--version", "us_vr_1", "--sheet", "us_sh_1", "--preview"])
    assert code == 0 and "us_sh_1" in out
    row = next(line for line in out.splitlines() if "us_sh_1" in line)
    assert [c.strip() for c in row.split("│") if c.strip()] == ["us_sh_1", "us_wb_1", "9", "3", "4", "5"]
    assert seen[0].method == "GET" and dict(seen[0].url.params) == {"versionId": "us_vr_1", "sheetId": "us_sh_1"}


def _spaces_api(deleted: list[str]) -> Handler:
    spaces = [
        {"id": "us_sp_old", "name": "old", "environmentId": "us_env_1", "archivedAt": "2020-01-01T00:00:00Z"},
        {"id": "us_sp_new", "name": "new", "environmentId": "us_env_1", "archivedAt": "2999-01-01T00:00:00Z"},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            deleted.append(request.url.path.rsplit("/", 1)[-1])
            return httpx.Response(200, json={"data": {"success": True}})
        assert request.url.params["archived"] == "true"
        return httpx.Response(200, json={"data": spaces, "pagination": {"pageCount": 1}})

    return handler


def test_cleanup_dry_run_lists_only_the_old_ones(served: Callable[[Handler], list[httpx.Request]]) -> None:
    deleted: list[str] = []
    served(_spaces_api(deleted))
    code, out, _ = invoke(["cleanup", "--archived-older-than", "30", "--dry-run"])
    assert code == 0 and "us_sp_old" in out and "us_sp_new" not in out and deleted == []


def test_cleanup_asks_first(served: Callable[[Handler], list[httpx.Request]]) -> None:
    deleted: list[str] = []
    served(_spaces_api(deleted))
    code, _, err = invoke(["cleanup", "--archived-older-than", "30"], input="n\n")
    assert (code, deleted) == (1, []) and "nothing deleted" in err
    code, out, _ = invoke(["cleanup", "--archived-older-than", "30"], input="y\n")
    assert (code, deleted) == (0, ["us_sp_old"]) and "deleted 1 spaces" in out
    assert invoke(["cleanup", "--archived-older-than", "30", "--yes"])[0] == 0
    assert deleted == ["us_sp_old", "us_sp_old"]
    assert "0 or more days" in invoke(["cleanup", "--archived-older-than", "-1", "--yes"])[2]


def test_events_tail_rejects_a_bad_since() -> None:
    code, _, err = invoke(["events", "tail", "--since", "last tuesday"])
    assert code == 1 and "neither a stream sequence nor an ISO-8601 time" in err


def test_export_json_pages_and_manifest(served: Callable[[Handler], list[httpx.Request]], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("spaceport.cli.export.PAGE_SIZE", 2)
    records = [{"id": f"r{i}", "values": {"a": {"value": i}}} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/spaces/us_sp_x":
            return httpx.Response(200, json={"data": {"id": "us_sp_x", "name": "S"}})
        if path == "/v1/workbooks":
            sheet = {"id": "us_sh_1", "name": "Contacts/All", "slug": "c", "recordCounts": {"total": 5}}
            return httpx.Response(200, json={"data": [{"id": "us_wb_1", "name": "Book", "sheets": [sheet]}]})
        page = int(request.url.params["pageNumber"])
        chunk = records[(page - 1) * 2 : page * 2]
        return httpx.Response(200, json={"data": {"success": True, "records": chunk}})

    served(handler)
    code, _, err = invoke(["export", "us_sp_x", "--out", str(tmp_path), "--format", "json"])
    assert code == 0, err
    assert json.loads((tmp_path / "Book" / "Contacts_All.json").read_text()) == records
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["workbooks"][0]["sheets"][0] == {
        "id": "us_sh_1", "name": "Contacts/All", "slug": "c", "file": "Book/Contacts_All.json", "records": 5,
    }  # fmt: skip
