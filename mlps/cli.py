"""The `mlps` command. Each subcommand lives in mlps/commands/<name>.py and exposes
`register(subparsers)`; new commands are found by listing that package, so adding one never
touches this file. Only the command being run is imported (`mlps --version` imports none), so
the CLI starts about as fast as Python itself; `mlps --help` imports them all to list them."""

from __future__ import annotations

import os
import sys

from mlps import __version__, commands
from mlps.errors import UserError

EXIT_USAGE = 2
EXIT_INTERNAL = 6       # a crash: different from every verdict (0, 1, 3) and 2, 4, 5


def command_modules() -> list[str]:
    """Module names under mlps/commands (listing the folder imports nothing)."""
    folder = commands.__path__[0]
    return sorted(name[:-3] for name in os.listdir(folder)
                  if name.endswith(".py") and not name.startswith("_"))


def build_parser(only: str | None = None):
    """The parser with every command, or with just `only` (a module name) when it is known."""
    import argparse  # noqa: PLC0415 - `mlps --version` needs none of this
    import importlib  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="mlps", description="MLPerf Storage toolkit: plan, verify, report.")
    parser.add_argument("--version", action="version", version=f"mlps {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = command_modules()
    for name in [only] if only in names else names:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def _chosen(argv: list[str]) -> str | None:
    """The command's module name: the first word that is not an option (`ckpt-plan` -> ckpt_plan)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first.replace("-", "_") if first else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:
        print(f"mlps {__version__}")
        return 0
    # Everything after `--` belongs to the program a command runs (argparse's subcommands do not
    # keep it apart reliably); only a command that sets `passes_on` takes it.
    passed = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = build_parser(_chosen(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if passed and not hasattr(args, "passes_on"):
        parser.error(f"{args.command} takes no arguments after --")
    args.passes_on = passed
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        from mlps.safe_text import printable  # noqa: PLC0415 - only error paths need it

        print(f"mlps {args.command}: error: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mlps {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from mlps.safe_text import printable  # noqa: PLC0415

        # One line, no traceback, and a code no verdict uses: exit 1 would read as OPEN to a script.
        detail = printable(exc)[:300]
        print(f"mlps {args.command}: internal error ({type(exc).__name__}: {detail}); no verdict; files "
              f"are written whole or not at all; please report it with the input that caused it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
