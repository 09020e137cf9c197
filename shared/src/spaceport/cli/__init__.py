"""The `spaceport` operator CLI (click + rich); `spaceport --help` lists the commands.

    spaceport rebuild SERVICE|--all [--projection NAME] [--force]     (alias: replay, projections rebuild)
    spaceport metrics space SPACE_ID | environment ENV_ID [--app ID] [--json]
    spaceport events tail [--space ID] [--type T ...] [--since SEQ|ISO] [--follow] [--json]
    spaceport export SPACE_ID --out DIR [--format csv|json]
    spaceport cleanup --archived-older-than DAYS [--environment ID] [--dry-run] [--yes]
    spaceport history SPACE_ID [--sheet ID] [--limit N] [--json]
    spaceport restore SPACE_ID (--version ID | --at ISO) [--sheet ID] [--preview]

Every error is one line on stderr (`error: …`) and a non-zero exit status; no tracebacks.
docs/operations.md ("The operator CLI") has an example of each.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from spaceport.cli.errors import CliError
from spaceport.cli.metrics import ask, environment_table, show_metrics, space_table
from spaceport.cli.projections import rebuild, service_runtime

__all__ = [
    "CliError",
    "ask",
    "environment_table",
    "main",
    "rebuild",
    "run",
    "service_runtime",
    "show_metrics",
    "space_table",
]


def run(argv: Sequence[str]) -> int:
    """Run the CLI on `argv`; returns the exit status (errors printed as one line on stderr)."""
    import click  # noqa: PLC0415 - click and rich load only when the CLI runs (litestar brings them)

    from spaceport.cli.app import root  # noqa: PLC0415

    try:
        result = root.main(args=list(argv), prog_name="spaceport", standalone_mode=False)
    except CliError as error:
        _fail(str(error))
        return error.code
    except click.exceptions.Abort:
        _fail("aborted")
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        _fail(f"{type(error).__name__}: {error}")
        return 1
    return result if isinstance(result, int) else 0


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
