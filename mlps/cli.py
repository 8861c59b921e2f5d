"""The `mlps` command. Each subcommand lives in mlps/commands/<name>.py and exposes
`register(subparsers)`; new commands are found by listing that package, so adding one never
touches this file."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mlps import __version__, commands
from mlps.errors import UserError

EXIT_USAGE = 2


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
        print(f"mlps {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mlps {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
