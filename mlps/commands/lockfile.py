"""`mlps lockfile generate|verify`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlps import lockfile


def register(sub) -> None:
    parser = sub.add_parser("lockfile", help="generate or verify pinned, hashed requirement locks")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser("generate", help="resolve requirements/*.in into *.lock")
    gen.add_argument("inputs", nargs="*", type=Path,
                     help="input files (default: every requirements/*.in)")
    gen.add_argument("--python", default=sys.executable, help="interpreter to resolve for (default: this one)")
    gen.set_defaults(func=_generate)
    ver = actions.add_parser("verify", help="compare what an interpreter has installed with a lock")
    ver.add_argument("locks", nargs="+", type=Path)
    ver.add_argument("--python", default=sys.executable, help="interpreter whose packages are checked")
    ver.add_argument("--json", action="store_true", help="print the result as JSON")
    ver.set_defaults(func=_verify)


def _generate(args) -> int:
    inputs = args.inputs or sorted(Path("requirements").glob("*.in"))
    for path in inputs:
        result = lockfile.generate(path, path.with_suffix(".lock"), python=args.python)
        print(f"{result['path']}: {result['packages']} packages, {result['hashed']} with hashes")
    return 0


def _verify(args) -> int:
    results = [lockfile.verify(lock, python=args.python) for lock in args.locks]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            for warning in result["warnings"]:
                print(f"{result['lock']}: warning: {warning}")
            for problem in result["problems"]:
                fix = f" -> fix: {problem['fix']}" if problem["fix"] else ""
                print(f"{result['lock']}: {problem['status']}: {problem['name']} expected {problem['expected']}, "
                      f"found {problem['found']}{fix}")
            print(f"{result['lock']}: {'OK' if result['ok'] else 'MISMATCH'}")
    return 0 if all(r["ok"] for r in results) else 1
