"""Host facts from every host of an MPI job, gathered to rank 0; and the launcher's fallback.

Run under mpirun with one rank per host, from a directory that also holds mlps_procfs.py (the facts
role instead hands both sources to roles/mlps_facts/files/mpi_bootstrap.py in the launch command):

    mpirun -np 3 --host h1:1,h2:1,h3:1 <venv>/bin/python mlps_mpi_collect.py [--path P ...]

Every rank runs `mlps_procfs.collect()` (the one home of collection logic) with
`collection_method: mpi`; rank 0 gathers the documents and prints them as one line,
`MLPS-FACTS <JSON list>`, which mpirun forwards to the launcher's stdout wherever rank 0 runs.
On the launcher, `gathered_or_fallback()` reads that line; when the launch failed or printed no
such line, it collects this host alone with `collection_method: local_fallback`, records why in
`errors.mpi` and returns a warning naming the hosts that were not collected.

Pure stdlib plus mpi4py (imported only when run under mpirun), Python 3.8 syntax: it runs on
the clients' venv Python, next to mlps_procfs.py, with no Ansible there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

try:  # imported as a package module (ansible.module_utils.*, mlps_module_utils.*)
    from .mlps_procfs import SCHEMA, check_document, collect
except ImportError:  # run as a script beside mlps_procfs.py, or built by the launch's bootstrap
    if "mlps_procfs" not in sys.modules:  # the bootstrap built it already: no folder to search
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mlps_procfs import SCHEMA, check_document, collect

MARKER = "MLPS-FACTS "


class GatherError(ValueError):
    """The launcher's output holds no usable gathered facts."""


# ---------------------------------------------------------------------------------------------
# On the launcher: read what rank 0 printed, or fall back to this host alone


def parse_gathered(text: str) -> list:
    """The documents of the last `MLPS-FACTS [...]` line in `text`; GatherError when there is none
    or it is not a list of valid host-facts documents (other output lines are ignored)."""
    lines = [line for line in text.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise GatherError("rank 0 printed no MLPS-FACTS line")
    try:
        docs = json.loads(lines[-1][len(MARKER):])
    except ValueError as exc:
        raise GatherError(f"the MLPS-FACTS line is not JSON ({exc})") from None
    if not isinstance(docs, list) or not docs:
        raise GatherError("the MLPS-FACTS line is not a non-empty list of host facts")
    for i, doc in enumerate(docs):
        problems = check_document(doc)
        if problems:
            raise GatherError(f"gathered document {i} is not {SCHEMA}: {problems[0]}")
    return docs


def read_output(path: str) -> str:
    """Text of the launcher's captured stdout ('' when the file is missing: nothing was run)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def fallback_doc(reason: str, paths=(), path_timeout: float = 5.0, gather_cpus: bool = True) -> dict:
    """This host's own facts, marked `local_fallback`, with the reason in `errors.mpi`."""
    doc = collect("/", paths=paths, path_timeout=path_timeout, gather_cpus=gather_cpus, method="local_fallback")
    doc["errors"]["mpi"] = reason
    return doc


def gathered_or_fallback(output: str, launch_error: str, hosts: list, paths=(), path_timeout: float = 5.0,
                         gather_cpus: bool = True) -> dict:
    """Facts of every host from the launcher's output, or this host's own when that failed.

    hosts are the hosts the launch covered, the launcher first. Returns a dict with `facts`
    (documents), `collection_method` (mpi | local_fallback), `missing` ({host: reason} for hosts
    without facts) and `warnings` (messages for the operator).
    """
    reason = launch_error.strip()
    docs = []
    if not reason:
        try:
            docs = parse_gathered(output)
        except GatherError as exc:
            reason = str(exc)
    if docs:
        warnings = []
        if len(docs) != len(hosts):
            warnings.append(f"MPI collection returned {len(docs)} documents for {len(hosts)} hosts; "
                            "check that the launch placed one rank on each host")
        return {"facts": docs, "collection_method": "mpi", "missing": {}, "warnings": warnings}
    others = list(hosts[1:])
    doc = fallback_doc(f"MPI collection failed: {reason}", paths, path_timeout, gather_cpus)
    missing = {host: "not collected: the MPI collection failed and fell back to the launcher" for host in others}
    warning = (f"MPI collection failed ({reason}); collected only the launcher "
               f"{doc.get('hostname') or (hosts[0] if hosts else '?')} (collection_method local_fallback)")
    if others:
        warning += f"; no facts from {', '.join(others)}"
    return {"facts": [doc], "collection_method": "local_fallback", "missing": missing, "warnings": [warning]}


# ---------------------------------------------------------------------------------------------
# Under mpirun: every rank collects, rank 0 prints the gathered list


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="mlps_mpi_collect.py",
        description=f"Under mpirun: collect {SCHEMA} on every rank and print the list from rank 0 as "
                    f"one '{MARKER.strip()} [...]' line.")
    parser.add_argument("--path", dest="paths", action="append", default=[], metavar="P",
                        help="absolute path to statvfs and locate among the mounts (repeatable)")
    parser.add_argument("--path-timeout", type=float, default=5.0, metavar="S",
                        help="seconds allowed for each path's statvfs (default: 5)")
    parser.add_argument("--no-cpus", action="store_true", help="leave out the per-CPU list")
    args = parser.parse_args(argv)
    problems = [f"--path {p}: not absolute; give an absolute path such as /mnt/data"
                for p in args.paths if not p.startswith("/")]
    if not args.path_timeout > 0:
        problems.append(f"--path-timeout {args.path_timeout:g}: expected seconds above 0, such as 5")
    return args, problems


def main(argv=None) -> int:
    args, problems = _parse_args(argv)
    if problems:
        for problem in problems:
            print(f"mlps_mpi_collect: {problem}", file=sys.stderr)
        return 2
    try:
        from mpi4py import MPI  # noqa: PLC0415 - only under mpirun; the launcher side needs no MPI
    except ImportError as exc:
        print(f"mlps_mpi_collect: cannot import mpi4py ({exc}); run this with the client venv's python "
              "(playbooks/setup.yml installs mpi4py there)", file=sys.stderr)
        return 2
    comm = MPI.COMM_WORLD
    doc = collect("/", paths=args.paths, path_timeout=args.path_timeout, gather_cpus=not args.no_cpus,
                  method="mpi")
    docs = comm.gather(doc, root=0)
    if comm.Get_rank() == 0:
        sys.stdout.write(MARKER + json.dumps(docs, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
