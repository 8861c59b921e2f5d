"""The `mlps` command. Each subcommand lives in mlps_rules/commands/<name>.py and exposes
`register(subparsers)`; new commands are found by listing that package, so adding one never
touches this file."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mlps_rules import __version__, commands
from mlps_rules.errors import UserError
from mlps_rules.safe_text import printable

EXIT_USAGE = 2
EXIT_INTERNAL = 6       # a crash: different from every verdict (0, 1, 3) and 2, 4, 5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlps", description="MLPerf Storage toolkit: plan, verify, report.")
    parser.add_argument("--version", action="version", version=f"mlps {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"mlps {args.command}: error: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mlps {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # One line, no traceback, and a code no verdict uses: exit 1 would read as OPEN to a script.
        detail = printable(exc)[:300]
        print(f"mlps {args.command}: internal error ({type(exc).__name__}: {detail}); no verdict; files "
              f"are written whole or not at all; please report it with the input that caused it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
