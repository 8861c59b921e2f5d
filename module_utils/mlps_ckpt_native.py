#!/usr/bin/env python3
"""Native checkpoint engine: an mpi4py program that writes and reads llama3 checkpoint shards.

One file on purpose: it is copied to every client and run by each rank as it is (no package, no
Ansible), so everything a rank needs lives here.

Used where the installed DLIO lacks the checkpoint-only workload (DLIO 2.0.0 from PyPI). Each rank
writes the files the plan gives it (`mlps ckpt-plan --json`, DLIO's shard sizes) into
`<folder>/global_epoch1_step<j>/` for j = 1..writes, then reads checkpoints 1..reads back. Per
checkpoint: sleep, barrier, every rank times its own I/O; the checkpoint's duration is the slowest
rank's and its throughput the checkpoint size over that duration (the definition of the v2.0 submission
guidelines, §2.2.3).

Outputs in --output-folder, in DLIO's names so the rules and reports read both engines alike:
`summary.json` (rank 0; DLIO's checkpoint metric names, GiB and seconds), `<rank>_per_epoch_stats.json`
and `<rank>_output.json` (every rank). `summary.json` carries `"engine": "native"` and the plan's
`size_scale`: native results are OPEN only (rule CKPT-ENGINE).

    mpirun -np N <venv>/bin/python mlps_ckpt_native.py --plan plan.json --folder DIR \
        --output-folder OUT --writes 10 --reads 10 [--transfer-size 4MiB] [--odirect] [--fsync] [--log F]

Two probes the checkpointing campaign runs on the clients before planning (JSON on stdout, no MPI):
`--probe-dlio` (does the venv's DLIO know the checkpoint-only workload's keys?) and
`--probe-folder PATH...` (free space and filesystem identity of each path, this host's memory and CPUs).

Pure stdlib + mpi4py, Python 3.8 syntax (it runs on the clients' venv Python).
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import json
import mmap
import os
import re
import socket
import statistics
import sys
import time

ENGINE = "native"
ENGINE_VERSION = 1
PLAN_SCHEMA = "mlps-ckpt-plan/1"
GIB = 2 ** 30
ALIGN = 4096                     # O_DIRECT: buffer address, offsets and lengths aligned to this
SENTINEL = ".mlps-ckpt-space-"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)(i?B)?\s*$", re.IGNORECASE)


class EngineError(Exception):
    """Something the user can fix; printed on one line by rank 0 (or the failing rank)."""


# --- small helpers ---------------------------------------------------------------------------------
def parse_size(text: str) -> int:
    """`4MiB`, `4M`, `512KiB`, `1GiB` or plain bytes -> bytes (binary multiples)."""
    match = _SIZE.match(str(text))
    if not match:
        raise EngineError("--transfer-size {!r}: expected bytes or a size like 4MiB, 512KiB, 1GiB".format(text))
    value = int(match.group(1)) * {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}[match.group(2).upper()]
    if value < 1:
        raise EngineError("--transfer-size {!r}: must be at least 1 byte".format(text))
    return value


def now_iso() -> str:
    return datetime.datetime.now().isoformat()          # naive local time, as DLIO writes it


def checkpoint_dir(folder: str, index: int) -> str:
    return os.path.join(folder, "global_epoch1_step{}".format(index))


def host_info() -> dict:
    """This host's name, memory (GiB) and CPUs for the summary's host fields."""
    memory = None
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024 / GIB
                    break
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "memory_GB": memory, "cpus": os.cpu_count(),
            "processor": os.uname().machine}


def write_json(path: str, data) -> None:
    tmp = "{}.tmp{}".format(path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


class Log:
    """Rank 0's progress log (the campaign follows it while the run goes; DLIO's dlio.log plays that part
    for DLIO). Other ranks, and runs without --log, write nothing."""

    def __init__(self, path, enabled: bool):
        self.path = path if enabled else None

    def line(self, text: str) -> None:
        if self.path:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("{} [INFO] {}\n".format(now_iso(), text))


def load_plan(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            plan = json.load(handle)
    except OSError as exc:
        raise EngineError("--plan {}: cannot read it ({}); write it with `mlps ckpt-plan --json`".format(
            path, exc.strerror)) from exc
    except ValueError as exc:
        raise EngineError("--plan {}: not JSON ({}); write it with `mlps ckpt-plan --json`".format(path, exc)) from exc
    if not isinstance(plan, dict) or plan.get("schema") != PLAN_SCHEMA or not isinstance(plan.get("ranks"), list):
        raise EngineError("--plan {}: expected a {} document from `mlps ckpt-plan --json`".format(path, PLAN_SCHEMA))
    for index, rank in enumerate(plan["ranks"]):
        files = rank.get("files") if isinstance(rank, dict) else None
        if rank.get("rank") != index or not isinstance(files, list) or not all(
                isinstance(f, dict) and isinstance(f.get("name"), str) and "/" not in f["name"]
                and isinstance(f.get("bytes"), int) and f["bytes"] >= 0 for f in files):
            raise EngineError("--plan {}: rank entry {} is malformed; regenerate the plan".format(path, index))
    return plan


# --- the I/O ---------------------------------------------------------------------------------------
class Io:
    """One reusable, page-aligned buffer (anonymous mmap) and the write/read loops over it."""

    def __init__(self, transfer: int, odirect: bool, fsync: bool, drop_file_cache: bool):
        self.transfer = transfer
        self.odirect = odirect
        self.fsync = fsync
        self.drop_file_cache = drop_file_cache
        self.buffer = mmap.mmap(-1, transfer)            # page aligned, as O_DIRECT needs
        self.buffer.write(os.urandom(transfer))          # incompressible data, written once and reused
        self.view = memoryview(self.buffer)

    def close(self) -> None:
        self.view.release()
        self.buffer.close()

    def _open(self, path: str, flags: int) -> int:
        if self.odirect:
            flags |= os.O_DIRECT
        try:
            return os.open(path, flags, 0o644)
        except OSError as exc:
            if self.odirect and exc.errno == errno.EINVAL:
                raise EngineError("{}: the filesystem refuses O_DIRECT ({}); run without --odirect".format(
                    path, exc.strerror)) from exc
            raise EngineError("{}: cannot open it ({})".format(path, exc.strerror)) from exc

    def _advise_drop(self, fd: int) -> None:
        # What DLIO v3.0's streaming writer/reader does: the pages just written (clean after fsync)
        # or read are dropped, so a later read of this file is not served from this host's cache.
        if self.drop_file_cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def write_file(self, path: str, size: int) -> None:
        fd = self._open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            left = size
            aligned_end = size - size % ALIGN if self.odirect else size
            while left > 0:
                done = size - left
                if self.odirect and done >= aligned_end:
                    # the unaligned tail: O_DIRECT cannot write it, so clear the flag for it
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                    chunk = left
                else:
                    chunk = min(self.transfer, left, (aligned_end - done) if self.odirect else left)
                left -= os.write(fd, self.view[:chunk])
            if self.fsync:
                os.fsync(fd)
            self._advise_drop(fd)
        except OSError as exc:
            raise EngineError("{}: write failed ({})".format(path, exc.strerror)) from exc
        finally:
            os.close(fd)

    def read_file(self, path: str, size: int) -> int:
        fd = self._open(path, os.O_RDONLY)
        total = 0
        try:
            if not self.odirect:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)     # a larger readahead window
            while True:
                # O_DIRECT: always the full aligned buffer; the kernel returns a short count at EOF
                count = os.readv(fd, [self.view]) if self.odirect else os.readv(fd, [self.view[:self.transfer]])
                if count == 0:
                    break
                total += count
            self._advise_drop(fd)
        except OSError as exc:
            raise EngineError("{}: read failed ({})".format(path, exc.strerror)) from exc
        finally:
            os.close(fd)
        if total != size:
            raise EngineError("{}: read {} bytes, the plan says {}; was it written by this plan?".format(
                path, total, size))
        return total


def probe_odirect(folder: str) -> str | None:
    """None when the filesystem of folder accepts an O_DIRECT write, else why not."""
    if not hasattr(os, "O_DIRECT"):
        return "O_DIRECT is not available on this platform"
    path = os.path.join(folder, ".mlps-odirect-probe-{}-{}".format(socket.gethostname(), os.getpid()))
    buffer = mmap.mmap(-1, ALIGN)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
        try:
            os.write(fd, buffer)
        finally:
            os.close(fd)
    except OSError as exc:
        return "{} on {}: {}".format(folder, socket.gethostname(), exc.strerror)
    finally:
        buffer.close()
        if os.path.exists(path):
            os.unlink(path)
    return None


# --- the run ---------------------------------------------------------------------------------------
class Run:
    def __init__(self, comm, args, plan: dict):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.args = args
        self.plan = plan
        self.mine = plan["ranks"][self.rank]
        self.size_gib = sum(f["bytes"] for r in plan["ranks"] for f in r["files"]) / GIB

    def collective_check(self, error: str | None) -> None:
        """Every rank learns whether any rank failed; all stop together (no rank left in a barrier)."""
        errors = [(rank, e) for rank, e in enumerate(self.comm.allgather(error)) if e]
        if errors:
            rank, first = errors[0]
            more = " (and {} more ranks failed)".format(len(errors) - 1) if len(errors) > 1 else ""
            raise EngineError("rank {}: {}{}".format(rank, first, more))

    def _attempt(self, action) -> str | None:
        try:
            action()
        except EngineError as exc:
            return str(exc)
        except OSError as exc:
            return "{}: {}".format(exc.filename or self.args.folder, exc.strerror)
        return None

    def check_space(self, hosts: list) -> None:
        """Before writing: each host's first rank checks the free space of the checkpoint folder against
        what the ranks sharing that filesystem will write (sentinel files show which hosts share it)."""
        leaders = {}
        for rank, info in enumerate(hosts):
            leaders.setdefault(info["hostname"], rank)
        sentinel = os.path.join(self.args.folder, "{}{}".format(SENTINEL, self.rank))
        lead = leaders[hosts[self.rank]["hostname"]] == self.rank

        def mark():
            if lead:
                with open(sentinel, "w", encoding="ascii"):
                    pass
        self.collective_check(self._attempt(mark))
        error = None
        if lead:
            try:
                seen = {int(n[len(SENTINEL):]) for n in os.listdir(self.args.folder) if n.startswith(SENTINEL)}
                sharing = {hosts[r]["hostname"] for r in seen if r in leaders.values()}
                need = self.args.writes * sum(f["bytes"] for r, entry in enumerate(self.plan["ranks"])
                                              if hosts[r]["hostname"] in sharing for f in entry["files"])
                stat = os.statvfs(self.args.folder)
                free = stat.f_bavail * stat.f_frsize
                if free < need:
                    error = ("{} on {}: {} bytes ({:.2f} GiB) free, {} checkpoints need {} bytes ({:.2f} GiB); "
                             "free space or use a smaller --scale".format(
                                 self.args.folder, hosts[self.rank]["hostname"], free, free / GIB,
                                 self.args.writes, need, need / GIB))
            except OSError as exc:
                error = "{}: cannot check free space ({})".format(self.args.folder, exc.strerror)
            finally:
                if os.path.exists(sentinel):
                    os.unlink(sentinel)
        self.collective_check(error)

    def check_readable(self) -> None:
        """Reads need the files of checkpoints 1..reads on disk, with the plan's sizes."""
        def check():
            for index in range(1, self.args.reads + 1):
                for entry in self.mine["files"]:
                    path = os.path.join(checkpoint_dir(self.args.folder, index), entry["name"])
                    try:
                        actual = os.stat(path).st_size
                    except OSError as exc:
                        raise EngineError("{}: missing; reading {} checkpoints needs them written first (run with "
                                          "--writes {} before)".format(path, self.args.reads, self.args.reads)) from exc
                    if actual != entry["bytes"]:
                        raise EngineError("{}: {} bytes, the plan says {}; write the checkpoints again with this "
                                          "plan".format(path, actual, entry["bytes"]))
        self.collective_check(self._attempt(check))

    def phase(self, io: Io, kind: str, count: int, log: Log) -> list:
        """Write (kind=save) or read (kind=load) checkpoints 1..count; per checkpoint the aggregate
        {start, end, duration, throughput} on rank 0 and this rank's own timings everywhere."""
        own, aggregate = [], []
        for index in range(1, count + 1):
            if self.args.time_between_checkpoints > 0:
                time.sleep(self.args.time_between_checkpoints)
            folder = checkpoint_dir(self.args.folder, index)
            if kind == "save":
                self.collective_check(self._attempt(lambda f=folder: os.makedirs(f, exist_ok=True)))
            self.comm.Barrier()
            start_wall, start = time.time(), time.perf_counter()

            def work(folder=folder):
                for entry in self.mine["files"]:
                    path = os.path.join(folder, entry["name"])
                    if kind == "save":
                        io.write_file(path, entry["bytes"])
                    else:
                        io.read_file(path, entry["bytes"])
            error = self._attempt(work)
            duration = time.perf_counter() - start
            timings = self.comm.allgather((duration, error))
            self.collective_check(error)
            own.append(self._stats(start_wall, duration))
            slowest = max(range(self.size), key=lambda r: timings[r][0])
            record = self._stats(start_wall, timings[slowest][0])
            record["slowest_rank"] = slowest
            aggregate.append(record)
            log.line("{}_ckpt {}/{} done: {:.3f} s, {:.3f} GiB/s (slowest rank {})".format(
                kind, index, count, record["duration"], record["throughput"] or 0.0, slowest))
        return own, aggregate

    def _stats(self, start_wall: float, duration: float) -> dict:
        start = datetime.datetime.fromtimestamp(start_wall)
        return {"start": start.isoformat(), "end": (start + datetime.timedelta(seconds=duration)).isoformat(),
                "duration": duration, "throughput": self.size_gib / duration if duration > 0 else None}


def summarise(prefix: str, records: list) -> dict:
    """DLIO's four figures of a phase: mean and population stdev of throughput and duration."""
    rates = [r["throughput"] for r in records if r["throughput"] is not None]
    durations = [r["duration"] for r in records]
    return {"{}_checkpoint_io_mean_GB_per_second".format(prefix): statistics.fmean(rates),
            "{}_checkpoint_io_stdev_GB_per_second".format(prefix): statistics.pstdev(rates),
            "{}_checkpoint_duration_mean_seconds".format(prefix): statistics.fmean(durations),
            "{}_checkpoint_duration_stdev_seconds".format(prefix): statistics.pstdev(durations)}


def execute(comm, args) -> None:
    rank = comm.Get_rank()
    plan, error = None, None
    if rank == 0:
        try:
            plan = load_plan(args.plan)
            if plan.get("processes") != comm.Get_size():
                raise EngineError("--plan {} is for {} processes, mpirun started {}; launch -np {}".format(
                    args.plan, plan.get("processes"), comm.Get_size(), plan.get("processes")))
        except EngineError as exc:
            error = str(exc)
    plan, error = comm.bcast((plan, error), root=0)
    if error:
        raise EngineError(error)
    run = Run(comm, args, plan)
    log = Log(args.log, rank == 0)
    started = now_iso()
    hosts = comm.allgather(host_info())
    run.collective_check(run._attempt(lambda: [os.makedirs(d, exist_ok=True)
                                               for d in (args.folder, args.output_folder)]))
    odirect = args.odirect
    refused = None
    if odirect:
        refusals = [r for r in comm.allgather(probe_odirect(args.folder)) if r]
        if refusals:
            # Fall back to buffered I/O on every rank alike, say so, and record it in the results.
            odirect, refused = False, refusals[0]
            if rank == 0:
                print("mlps_ckpt_native: warning: O_DIRECT refused ({}); running buffered I/O, recorded as "
                      "odirect_refused in summary.json".format(refused), file=sys.stderr)
    log.line("{} {} ranks on {} hosts: {} writes, {} reads of {} bytes per checkpoint".format(
        plan.get("model"), run.size, len({h["hostname"] for h in hosts}), args.writes, args.reads,
        sum(f["bytes"] for r in plan["ranks"] for f in r["files"])))
    if args.writes:
        run.check_space(hosts)
    io = Io(args.transfer_size, odirect, args.fsync, not args.keep_file_cache)
    try:
        saves, save_agg = run.phase(io, "save", args.writes, log)
        if args.reads:
            run.check_readable()
        loads, load_agg = run.phase(io, "load", args.reads, log)
    finally:
        io.close()
    ended = now_iso()
    log.line("checkpointing done: {} writes, {} reads".format(len(saves), len(loads)))
    per_epoch = {"start": started}
    per_epoch.update({"save_ckpt{}".format(j + 1): s for j, s in enumerate(saves)})
    per_epoch.update({"load_ckpt{}".format(j + 1): s for j, s in enumerate(loads)})
    per_epoch["end"] = ended
    out = args.output_folder
    write_json(os.path.join(out, "{}_per_epoch_stats.json".format(rank)), {"1": per_epoch})
    write_json(os.path.join(out, "{}_output.json".format(rank)), {
        "engine": ENGINE, "rank": rank, "hostname": hosts[rank]["hostname"], "files": run.mine["files"],
        "bytes_per_checkpoint": sum(f["bytes"] for f in run.mine["files"]),
        "save": saves, "load": loads})
    if rank == 0:
        write_json(os.path.join(out, "summary.json"), build_summary(args, plan, run, hosts, started, ended,
                                                                    save_agg, load_agg, odirect, refused))


def build_summary(args, plan, run, hosts, started, ended, save_agg, load_agg, odirect, refused) -> dict:
    metric = {}
    if save_agg:
        metric.update(summarise("save", save_agg))
    if load_agg:
        metric.update(summarise("load", load_agg))
    metric["checkpoint_size_GB"] = run.size_gib
    per_host = {}
    for info in hosts:
        per_host.setdefault(info["hostname"], info)
    checkpoints = {"save_ckpt{}".format(j + 1): s for j, s in enumerate(save_agg)}
    checkpoints.update({"load_ckpt{}".format(j + 1): s for j, s in enumerate(load_agg)})
    return {
        "start": started, "end": ended, "num_accelerators": run.size, "num_hosts": len(per_host),
        "hostname": hosts[0]["hostname"], "metric": metric, "epochs": 0,
        "host_cpu_count": [h["cpus"] for h in per_host.values()],
        "host_processor_name": hosts[0]["processor"],
        "host_memory_GB": [h["memory_GB"] for h in per_host.values()],
        "engine": ENGINE, "engine_version": ENGINE_VERSION, "size_scale": plan.get("scale"),
        "model": plan.get("model"), "checkpoint_mode": plan.get("mode"),
        "num_checkpoints_write": args.writes, "num_checkpoints_read": args.reads,
        "checkpoint_folder": os.path.abspath(args.folder), "transfer_size": args.transfer_size,
        "odirect": odirect, "odirect_refused": refused, "fsync": args.fsync,
        "drop_file_cache": not args.keep_file_cache, "time_between_checkpoints": args.time_between_checkpoints,
        "checkpoint_bytes": sum(f["bytes"] for r in plan["ranks"] for f in r["files"]),
        "checkpoints": checkpoints,
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="mlps_ckpt_native", description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", required=True, help="plan JSON from `mlps ckpt-plan --json`")
    parser.add_argument("--folder", required=True, help="checkpoint folder (files go to global_epoch1_step<j>/)")
    parser.add_argument("--output-folder", required=True, help="where summary.json and per-rank files go")
    parser.add_argument("--writes", type=int, default=10, help="checkpoints to write (default 10)")
    parser.add_argument("--reads", type=int, default=10, help="checkpoints to read back (default 10)")
    parser.add_argument("--transfer-size", default="4MiB", help="bytes per write/read call (default 4MiB)")
    parser.add_argument("--odirect", action="store_true", help="bypass the page cache with O_DIRECT")
    parser.add_argument("--fsync", action="store_true", help="fsync every file before the rank reports")
    parser.add_argument("--keep-file-cache", action="store_true",
                        help="do not advise the kernel to drop each file's pages after writing/reading it")
    parser.add_argument("--log", help="rank 0 appends one progress line per checkpoint to this file")
    parser.add_argument("--time-between-checkpoints", type=float, default=5.0, metavar="S",
                        help="seconds to sleep before each checkpoint (the template's 5)")
    args = parser.parse_args(argv)
    try:
        args.transfer_size = parse_size(args.transfer_size)
    except EngineError as exc:
        parser.error(str(exc))
    if args.writes < 0 or args.reads < 0:
        parser.error("--writes/--reads: expected counts of 0 or more")
    if args.writes and args.reads > args.writes:
        parser.error("--reads {} > --writes {}: a run reads only checkpoints it wrote".format(args.reads, args.writes))
    if not args.writes and not args.reads:
        parser.error("--writes 0 and --reads 0: nothing to do")
    if args.odirect and args.transfer_size % ALIGN:
        parser.error("--transfer-size {}: O_DIRECT needs a multiple of {} bytes".format(args.transfer_size, ALIGN))
    if args.time_between_checkpoints < 0:
        parser.error("--time-between-checkpoints: expected 0 or more seconds")
    return args


# --- probes (no MPI): what the campaign must know before it plans ---------------------------------
_CKPT_KEY = re.compile(r"\bnum_checkpoints_[a-z_]+")


def probe_dlio() -> dict:
    """Version of the venv's DLIO and the checkpoint-count keys its config knows, read from its source
    (importing DLIO would pull in its frameworks: seconds, and nothing more to learn)."""
    import importlib.util  # noqa: PLC0415 - only the probe needs these

    try:
        from importlib import metadata  # noqa: PLC0415
        version = metadata.version("dlio_benchmark")
        spec = importlib.util.find_spec("dlio_benchmark")
    except Exception as exc:  # any failure means "no usable DLIO", reported as such
        return {"dlio_version": None, "error": "{}: {}".format(type(exc).__name__, exc)}
    if spec is None or not spec.origin:
        return {"dlio_version": None, "error": "the dlio_benchmark package cannot be found"}
    package = os.path.dirname(spec.origin)
    keys = set()
    for name in ("utils/config.py", "main.py"):
        try:
            with open(os.path.join(package, name), encoding="utf-8", errors="replace") as handle:
                keys.update(_CKPT_KEY.findall(handle.read()))
        except OSError:
            pass
    workload_dir = os.path.join(package, "configs", "workload")
    packaged = sorted(n for n in os.listdir(workload_dir) if n.startswith("llama")) \
        if os.path.isdir(workload_dir) else []
    return {"dlio_version": version, "package_dir": package, "config_keys": sorted(keys),
            "packaged_llama_configs": packaged}


def probe_folders(paths: list) -> dict:
    """This host's memory and CPUs, and per path its free bytes and filesystem identity (f_fsid with the
    size, so hosts reporting the same key are taken to share the filesystem)."""
    info = host_info()
    out = {"hostname": info["hostname"], "cpus": info["cpus"],
           "memory_bytes": int(info["memory_GB"] * GIB) if info["memory_GB"] else None, "paths": {}}
    for path in paths:
        # a folder not created yet lands on the filesystem of its nearest existing ancestor
        probed = os.path.abspath(path)
        while not os.path.exists(probed) and os.path.dirname(probed) != probed:
            probed = os.path.dirname(probed)
        try:
            stat = os.statvfs(probed)
            # a file where a folder is wanted, or a folder we may not write, cannot hold the new one
            out["paths"][path] = {"free_bytes": stat.f_bavail * stat.f_frsize, "dev": os.stat(probed).st_dev,
                                  "fs_key": [stat.f_fsid, stat.f_blocks, stat.f_frsize], "probed": probed,
                                  "exists": probed == os.path.abspath(path), "is_dir": os.path.isdir(probed),
                                  "writable": os.access(probed, os.W_OK | os.X_OK)}
        except OSError as exc:
            out["paths"][path] = {"free_bytes": None, "error": "{}: {}".format(probed, exc.strerror)}
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--probe-dlio"]:
        print(json.dumps(probe_dlio()))
        return 0
    if argv[:1] == ["--probe-folder"]:
        if len(argv) < 2:
            print("mlps_ckpt_native: error: --probe-folder needs at least one path", file=sys.stderr)
            return 2
        print(json.dumps(probe_folders(argv[1:])))
        return 0
    args = parse_args(argv)
    from mpi4py import MPI  # noqa: PLC0415 - imported late so --help and argument errors need no MPI

    comm = MPI.COMM_WORLD
    try:
        execute(comm, args)
    except EngineError as exc:
        if comm.Get_rank() == 0:
            print("mlps_ckpt_native: error: {}".format(exc), file=sys.stderr)
            Log(args.log, True).line("error: {}".format(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
