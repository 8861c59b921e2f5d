"""Time series of host counters (`mlps-timeseries/1`): the sampling loop, rates, and a JSONL reader.

One file on purpose: the sampler module ships it to each client as its only helper, and the writer
and the reader of the format stay side by side.

One JSON line per sample:
  {"schema": "mlps-timeseries/1", "host": "h1", "wall": 1767225600.12, "mono": 5123.4, "seq": 0,
   "counters": {"diskstats": {...}, "net_dev": {...}, "vmstat": {...}, "stat_cpu": {...},
                "stat": {...}, "meminfo": {...}, "nfs": {...}}}
plus `"errors": {source: message}` on a sample where a source could not be read. Counters are raw;
`rates()` derives per-interval figures when a report needs them.

The loop takes its clock, reader and writer as arguments so it can be tested without sleeping.
The /proc parsers are the ones in mlps_procfs; this file only keeps the files open between samples
(seek to 0 and read again costs less than open/read/close) and adds the small NFS mountstats parser.

Pure stdlib, Python 3.8 syntax (it runs on the clients). Also runs alone:
  python3 mlps_timeseries.py --output /tmp/ts.jsonl --stop-file /tmp/ts.stop --max-duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time as _time

try:  # inside Ansible (ansible.module_utils) or the mlps_module_utils package
    from . import mlps_procfs as procfs
    from . import mlps_safepath as safepath
except ImportError:  # run as a plain file next to mlps_procfs.py
    import mlps_procfs as procfs  # type: ignore[no-redef]
    import mlps_safepath as safepath  # type: ignore[no-redef]

SCHEMA = "mlps-timeseries/1"
DEFAULT_MAX_DURATION = 6 * 3600.0

# vmstat has ~190 counters; these are the ones that explain storage and page-cache behaviour.
# The rest would more than double each line. `vmstat="all"` keeps every counter.
VMSTAT_KEYS = (
    "nr_free_pages", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_mapped", "nr_shmem",
    "pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault", "pgfree",
    "pgactivate", "pgdeactivate", "pgsteal_kswapd", "pgsteal_direct", "pgscan_kswapd",
    "pgscan_direct", "allocstall_normal", "allocstall_movable", "workingset_refault_file",
    "workingset_activate_file", "slabs_scanned", "drop_pagecache", "drop_slab", "oom_kill",
)

# ---------------------------------------------------------------------------------------------
# /proc/self/mountstats (NFS only)

_NFS_BYTES = ("normal_read", "normal_write", "direct_read", "direct_write",
              "server_read", "server_write", "read_pages", "write_pages")
_NFS_OPS = ("READ", "WRITE")
_NFS_OP_FIELDS = ("ops", "transmissions", "timeouts", "bytes_sent", "bytes_recv")


def parse_mountstats(text: str) -> tuple[dict, int]:
    """NFS mounts only: {mountpoint: {device, fstype, bytes{...}, ops{READ{...}, WRITE{...}}}}.

    A mount starts at `device D mounted on M with fstype T ...`; its `bytes:` line holds the eight
    byte/page counters and the per-op section its READ and WRITE lines. Other mounts are ignored.
    """
    data: dict[str, dict] = {}
    skipped = 0
    current = None
    for line in text.split("\n"):
        if line.startswith("device "):
            current = None
            head = line.split()
            try:
                at = head.index("mounted")
                fstype = head[head.index("fstype", at) + 1]
            except (ValueError, IndexError):
                skipped += 1
                continue
            if fstype.startswith("nfs") and head[at + 1:at + 2] == ["on"] and at + 2 < len(head):
                current = {"device": head[1], "fstype": fstype}
                data[procfs.unescape_octal(head[at + 2])] = current
            continue
        if current is None:
            continue
        fields = line.split()
        if not fields:
            continue
        try:
            if fields[0] == "bytes:":
                current["bytes"] = dict(zip(_NFS_BYTES, (int(x) for x in fields[1:9])))
            elif fields[0][:-1] in _NFS_OPS and fields[0].endswith(":"):
                values = (int(x) for x in fields[1:1 + len(_NFS_OP_FIELDS)])
                current.setdefault("ops", {})[fields[0][:-1]] = dict(zip(_NFS_OP_FIELDS, values))
        except ValueError:
            skipped += 1
    return data, skipped


# ---------------------------------------------------------------------------------------------
# Reading the counters with open file handles


class _ProcFile:
    """One /proc file kept open; each read seeks to 0 and reads until end of file."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None

    def read(self) -> str:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        try:
            os.lseek(self.fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            self.close()  # opened again on the next sample
            raise
        return b"".join(chunks).decode("utf-8", "replace")

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            finally:
                self.fd = None


def _subset(keys):
    return lambda data: {k: data[k] for k in keys if k in data}


class CounterReader:
    """Callable returning (counters, errors) for one sample; keeps the files open between calls.

    root: where proc/ lives (`/` live, or a copied tree for tests). vmstat: "subset" or "all".
    """

    def __init__(self, root: str = "/", nfs: bool = True, vmstat: str = "subset",
                 meminfo_keys=procfs.SAMPLE_MEMINFO_KEYS):
        keep_vmstat = (lambda data: data) if vmstat == "all" else _subset(VMSTAT_KEYS)
        self.sources = [
            ("diskstats", "proc/diskstats", procfs.parse_diskstats, None),
            ("net_dev", "proc/net/dev", procfs.parse_net_dev, None),
            ("vmstat", "proc/vmstat", procfs.parse_vmstat, keep_vmstat),
            ("stat", "proc/stat", procfs.parse_stat, None),
            ("meminfo", "proc/meminfo", procfs.parse_meminfo, _subset(meminfo_keys)),
        ]
        if nfs:
            self.sources.append(("nfs", "proc/self/mountstats", parse_mountstats, None))
        self.files = {name: _ProcFile(os.path.join(root, rel)) for name, rel, _p, _k in self.sources}

    def __call__(self) -> tuple[dict, dict]:
        counters: dict = {}
        errors: dict = {}
        for name, _rel, parse, keep in self.sources:
            try:
                text = self.files[name].read()
            except OSError as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            if name == "nfs" and " fstype nfs" not in text:
                counters[name] = {}  # no NFS mount: skip parsing the whole file
                continue
            try:
                data, _skipped = parse(text)
            except Exception as exc:  # a parser bug must cost one source, not the series
                errors[name] = f"parser failed: {type(exc).__name__}: {exc}"
                continue
            if name == "stat":
                counters["stat_cpu"] = data["cpu"]
                counters["stat"] = data["counters"]
            else:
                counters[name] = keep(data) if keep else data
        return counters, errors

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


# ---------------------------------------------------------------------------------------------
# The loop


class SystemClock:
    """The real clock; tests pass an object with the same three methods."""

    monotonic = staticmethod(_time.monotonic)
    time = staticmethod(_time.time)
    sleep = staticmethod(_time.sleep)


def default_max_samples(interval: float, max_duration: float) -> int:
    """Enough for max_duration at interval, plus the first and the last sample."""
    return int(max_duration / interval) + 2


def sample_line(host: str, seq: int, wall: float, mono: float, counters: dict, errors: dict) -> str:
    record = {"schema": SCHEMA, "host": host, "wall": round(wall, 6), "mono": round(mono, 6),
              "seq": seq, "counters": counters}
    if errors:
        record["errors"] = errors
    return json.dumps(record, separators=(",", ":")) + "\n"


def sample_loop(read, write, interval: float, max_samples: int, max_duration: float, host: str,
                stop_file: str | None = None, clock=SystemClock, stop_requested=lambda: False,
                exists=os.path.exists, check_every: float = 0.2) -> dict:
    """Sample every `interval` seconds until a bound, the stop file, or a signal.

    read() -> (counters, errors); write(line). Samples sit on a fixed grid from the start, so they
    do not drift; a sample that is late goes out at once, and only slots missed entirely (a read
    slower than the interval) are skipped. The stop file and stop_requested() are checked every
    `check_every` seconds, so stopping never waits for a whole interval. On the stop file or a
    signal one closing sample is taken (within max_samples), so the series covers the end of the
    run. Returns samples, duration (first sample to last) and reason.
    """
    start = clock.monotonic()
    deadline = start + max_duration
    next_slot = start
    samples = 0
    reason = None
    while True:
        mono, wall = clock.monotonic(), clock.time()
        counters, errors = read()
        write(sample_line(host, samples, wall, mono, counters, errors))
        samples += 1
        if reason is not None:
            break  # that was the closing sample
        if samples >= max_samples:
            reason = "max_samples"
            break
        next_slot += interval
        now = clock.monotonic()
        while next_slot + interval <= now:
            next_slot += interval
        reason = _wait(clock, next_slot, deadline, stop_file, stop_requested, exists, check_every)
        if reason == "max_duration":
            break
    return {"samples": samples, "duration": round(clock.monotonic() - start, 6), "reason": reason}


def _wait(clock, until: float, deadline: float, stop_file, stop_requested, exists, check_every: float):
    """None when `until` is reached, else the reason to stop."""
    while True:
        if stop_requested():
            return "signal"
        if stop_file and exists(stop_file):
            return "stop_file"
        now = clock.monotonic()
        if now >= deadline:
            return "max_duration"
        if now >= until:
            return None
        clock.sleep(min(check_every, until - now, deadline - now))


# ---------------------------------------------------------------------------------------------
# One sampler run: options, signals, output file


class PhaseFollower:
    """Tells when the processes of one benchmark phase have ended on this host.

    A phase's processes are recognised by a marker in their command line (the phase's staging
    folder, which every DLIO rank and the launcher's mpirun carry). The sampler stops on its own
    once it has seen them and then sees none, or when none appeared within `startup` seconds, so
    an interrupted or lost controller never leaves it running. /proc is scanned at most every
    `every` seconds to keep the sampler cheap.
    """

    def __init__(self, marker: str, startup: float = 180.0, every: float = 2.0, proc: str = "/proc",
                 clock=None):
        self.marker = marker.encode("utf-8", "surrogateescape")
        self.startup, self.every, self.proc = startup, every, proc
        self.clock = clock or SystemClock
        self.began = self.clock.monotonic()
        self.checked = -every
        self.seen = False
        self.ended = None

    def running(self) -> bool:
        me = os.getpid()
        try:
            names = os.listdir(self.proc)
        except OSError:
            return True  # cannot tell: keep sampling, the other bounds still hold
        for name in names:
            if not name.isdigit() or int(name) == me:
                continue
            try:
                with open(os.path.join(self.proc, name, "cmdline"), "rb") as handle:
                    if self.marker in handle.read():
                        return True
            except OSError:
                continue
        return False

    def __call__(self):
        """None while the phase goes on (or has not started yet), else why to stop."""
        now = self.clock.monotonic()
        if self.ended is None and now - self.checked >= self.every:
            self.checked = now
            if self.running():
                self.seen = True
            elif self.seen:
                self.ended = "phase_ended"
            elif now - self.began >= self.startup:
                self.ended = "phase_never_started"
        return self.ended


def check_options(output, interval, stop_file, max_samples, max_duration, host, vmstat="subset") -> list:
    """Every problem with the options, each a sentence naming the option and what to give."""
    problems = []
    if not isinstance(output, str) or not output.startswith("/"):
        problems.append(f"output={output}: expected an absolute file path such as /tmp/mlps/timeseries.jsonl")
    elif os.path.isdir(output):
        problems.append(f"output={output}: is a directory; expected a file path inside it")
    elif not os.path.isdir(os.path.dirname(output)):
        problems.append(f"output={output}: directory {os.path.dirname(output)} does not exist; create it first")
    if not interval > 0:
        problems.append(f"interval={interval}: expected seconds above 0, such as 1.0")
    if not max_duration > 0:
        problems.append(f"max_duration={max_duration}: expected seconds above 0, such as 21600")
    if max_samples is not None and max_samples < 1:
        problems.append(f"max_samples={max_samples}: expected at least 1 (or leave it unset)")
    if stop_file is not None and not str(stop_file).startswith("/"):
        problems.append(f"stop_file={stop_file}: expected an absolute path such as /tmp/mlps/sampler.stop")
    elif stop_file is not None and stop_file == output:
        problems.append(f"stop_file={stop_file}: is the output file; give a separate path")
    if not host:
        problems.append("host: expected a non-empty label such as the inventory hostname")
    if vmstat not in ("subset", "all"):
        problems.append(f"vmstat={vmstat}: expected subset or all")
    return problems


class _Signals:
    """Records the first terminating signal; the loop polls it, so a line is never cut short."""

    NAMES = ("SIGTERM", "SIGINT", "SIGHUP")

    def __init__(self):
        self.received = None
        self.previous = {}

    def handle(self, signum, _frame):
        if self.received is None:
            self.received = signal.Signals(signum).name

    def __enter__(self):
        for name in self.NAMES:
            number = getattr(signal, name)
            self.previous[number] = signal.signal(number, self.handle)
        return self

    def __exit__(self, *_exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _writer(fd: int):
    def write(line: str) -> None:
        data = line.encode("utf-8")
        while data:  # a regular file takes it in one call; loop for the rare short write
            data = data[os.write(fd, data):]
    return write


def run(output: str, interval: float = 1.0, stop_file: str | None = None, max_samples: int | None = None,
        max_duration: float = DEFAULT_MAX_DURATION, host: str | None = None, nfs: bool = True,
        vmstat: str = "subset", root: str = "/", clock=SystemClock, follow: str | None = None,
        follow_startup: float = 180.0) -> dict:
    """Sample into `output` (truncated first) until a bound, the stop file or SIGTERM/SIGINT/SIGHUP.

    Each line is written with one write(2) as soon as it is sampled, so a killed sampler leaves
    only complete lines (at worst one torn last line, which read_jsonl skips).
    Raises ValueError with every problem when the options are bad.
    """
    host = host if host is not None else os.uname().nodename
    problems = check_options(output, interval, stop_file, max_samples, max_duration, host, vmstat)
    if problems:
        raise ValueError("; ".join(problems))
    if max_samples is None:
        max_samples = default_max_samples(interval, max_duration)
    reader = CounterReader(root=root, nfs=nfs, vmstat=vmstat)
    follower = PhaseFollower(follow, startup=follow_startup, clock=clock) if follow else (lambda: None)
    # Unlinks whatever was planted there (a link to a victim file stays untouched) and creates anew.
    fd = safepath.replace_file(os.path.abspath(output), os.O_WRONLY | os.O_APPEND, 0o644)
    try:
        with _Signals() as signals:
            result = sample_loop(reader, _writer(fd), interval, max_samples, max_duration, host,
                                 stop_file=stop_file, clock=clock,
                                 stop_requested=lambda: signals.received or follower())
        result["signal"] = signals.received
        if result["reason"] == "signal" and not signals.received:
            result["reason"] = follower()
        result["bytes"] = os.fstat(fd).st_size
    finally:
        os.close(fd)
        reader.close()
    result.update({"output": output, "interval": interval, "max_samples": max_samples,
                   "max_duration": max_duration, "host": host, "stop_file": stop_file, "follow": follow})
    return result


# ---------------------------------------------------------------------------------------------
# Reading a series back, and rates


def read_jsonl(path: str) -> tuple[list, int]:
    """(samples, skipped): every line that is a `mlps-timeseries/1` object, and how many were not
    (a torn last line from a killed sampler, or anything else that is not a sample)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    samples = []
    skipped = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            skipped += 1
            continue
        if isinstance(record, dict) and record.get("schema") == SCHEMA and isinstance(record.get("counters"), dict):
            samples.append(record)
        else:
            skipped += 1
    return samples, skipped


SECTOR_BYTES = 512  # diskstats counts 512-byte sectors whatever the device's block size
# Left out of the disk totals: partitions (their disk counts them), stacked devices (their members
# count them) and memory-backed ones.
_VIRTUAL_DISK_PREFIXES = ("dm-", "md", "loop", "ram", "zram")


def _delta(before, after):
    """after - before, or None when either is missing or the counter went back (reset, wrap)."""
    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)) or after < before:
        return None
    return after - before


def _per_second(before: dict, after: dict, key: str, dt: float, scale: float = 1.0):
    change = _delta(before.get(key), after.get(key))
    return None if change is None else round(change * scale / dt, 3)


def is_partition(name: str, names) -> bool:
    """sda1 of sda, nvme0n1p2 of nvme0n1, mmcblk0p1 of mmcblk0."""
    stem = name.rstrip("0123456789")
    if stem == name:
        return False
    return stem in names or (stem.endswith("p") and stem[:-1] in names)


def _add_into(total: dict, entry: dict) -> None:
    """Add entry's figures to the totals; one unknown figure makes that total unknown."""
    for key, value in list(total.items()):
        total[key] = None if value is None or entry[key] is None else value + entry[key]


# Per-second figures derived from each counter: {figure: (counter, scale)}; the first two are totalled.
_DISK_FIGURES = {"read_bytes_per_s": ("sectors_read", SECTOR_BYTES),
                 "write_bytes_per_s": ("sectors_written", SECTOR_BYTES),
                 "reads_per_s": ("reads_completed", 1.0), "writes_per_s": ("writes_completed", 1.0)}
_NET_FIGURES = {"rx_bytes_per_s": ("rx_bytes", 1.0), "tx_bytes_per_s": ("tx_bytes", 1.0)}


def _rates(before: dict, after: dict, dt: float, figures: dict, totalled: tuple, counted,
           totals_only: bool) -> tuple[dict, dict]:
    """Per-device figures between two samples, and the totals over the devices `counted` accepts.
    `totals_only`: no per-device figures, and only the totalled ones of the counted devices (a
    chart of totals needs no more; a host has dozens of loop devices and 19 counters each)."""
    per_device = {}
    total = dict.fromkeys(totalled, 0.0)
    if totals_only:
        figures = {figure: figures[figure] for figure in totalled}
    for name, now in after.items():
        then = before.get(name)
        if not isinstance(then, dict) or not isinstance(now, dict):
            continue
        if totals_only and not counted(name):
            continue
        entry = {figure: _per_second(then, now, counter, dt, scale) for figure, (counter, scale) in figures.items()}
        if not totals_only:
            per_device[name] = entry
        if counted(name):
            _add_into(total, entry)
    return per_device, total


def _disk_rates(before: dict, after: dict, dt: float, totals_only: bool = False) -> tuple[dict, dict]:
    # virtual devices and partitions would count the same bytes twice
    return _rates(before, after, dt, _DISK_FIGURES, ("read_bytes_per_s", "write_bytes_per_s"),
                  lambda name: not name.startswith(_VIRTUAL_DISK_PREFIXES) and not is_partition(name, after),
                  totals_only)


def _net_rates(before: dict, after: dict, dt: float, totals_only: bool = False) -> tuple[dict, dict]:
    return _rates(before, after, dt, _NET_FIGURES, ("rx_bytes_per_s", "tx_bytes_per_s"), lambda name: name != "lo",
                  totals_only)


_CPU_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")  # guest time is inside user/nice
_CPU_IDLE_FIELDS = ("idle", "iowait")


def cpu_busy_pct(before: dict, after: dict):
    """Share of all CPUs' jiffies spent busy between two /proc/stat `cpu` lines, in percent."""
    busy = [_delta(before.get(k, 0), after.get(k, 0)) for k in _CPU_BUSY_FIELDS]
    idle = [_delta(before.get(k, 0), after.get(k, 0)) for k in _CPU_IDLE_FIELDS]
    if None in busy or None in idle:
        return None
    total = sum(busy) + sum(idle)
    return round(100.0 * sum(busy) / total, 3) if total > 0 else None


def _nfs_rates(before: dict, after: dict, dt: float) -> dict:
    out = {}
    for mount, now in after.items():
        then = before.get(mount)
        if not isinstance(then, dict) or not isinstance(now, dict):
            continue
        b0, b1 = then.get("bytes") or {}, now.get("bytes") or {}
        read = [_delta(b0.get(k), b1.get(k)) for k in ("normal_read", "direct_read")]
        write = [_delta(b0.get(k), b1.get(k)) for k in ("normal_write", "direct_write")]
        # what the server sent (READ replies): unlike normal_read, pages served from the client's
        # cache are not in it, so it tells storage traffic from page-cache hits
        server = _delta(b0.get("server_read"), b1.get("server_read"))
        out[mount] = {"read_bytes_per_s": None if None in read else round(sum(read) / dt, 3),
                      "write_bytes_per_s": None if None in write else round(sum(write) / dt, 3),
                      "server_read_bytes_per_s": None if server is None else round(server / dt, 3)}
    return out


def rates(samples: list, totals_only: bool = False) -> list:
    """Per-interval rates between consecutive samples of one host.

    Disk bytes/s from sectors x 512, net rx/tx bytes/s, CPU busy % of all CPUs, NFS bytes/s per
    mount, and the page cache (meminfo Cached) at the end of the interval. A counter that went
    back gives None for that interval; an interval that is not forward in time is left out.
    `totals_only`: the disk and net totals without the per-device and NFS figures (about five
    times less work on a host with many block devices).
    """
    out = []
    for before, after in zip(samples, samples[1:]):  # noqa: RUF007 - pairwise needs 3.10; this runs on 3.8
        dt = _delta(before.get("mono"), after.get("mono"))
        if not dt:
            continue
        c0, c1 = before.get("counters") or {}, after.get("counters") or {}
        disks, disk_total = _disk_rates(c0.get("diskstats") or {}, c1.get("diskstats") or {}, dt, totals_only)
        nets, net_total = _net_rates(c0.get("net_dev") or {}, c1.get("net_dev") or {}, dt, totals_only)
        cpu0 = (c0.get("stat_cpu") or {}).get("cpu") or {}
        cpu1 = (c1.get("stat_cpu") or {}).get("cpu") or {}
        out.append({
            "host": after.get("host"), "wall": after.get("wall"), "mono": after.get("mono"),
            "dt": round(dt, 6),
            "disk": disks, "disk_total": disk_total,
            "net": nets, "net_total": net_total,
            "nfs": {} if totals_only else _nfs_rates(c0.get("nfs") or {}, c1.get("nfs") or {}, dt),
            "cpu_busy_pct": cpu_busy_pct(cpu0, cpu1) if cpu0 and cpu1 else None,
            "page_cache_bytes": (c1.get("meminfo") or {}).get("Cached"),
        })
    return out


# ---------------------------------------------------------------------------------------------
# Command line (hosts without Ansible, and the benchmark's baseline)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlps_timeseries.py",
        description=f"Write {SCHEMA} samples as JSON Lines until the stop file appears, a bound is "
                    "reached or SIGTERM/SIGINT arrives; prints the result as JSON.")
    parser.add_argument("--output", required=True, help="absolute path of the JSONL file to write")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--stop-file", help="absolute path; sampling stops when it appears")
    parser.add_argument("--max-samples", type=int, help="hard bound on samples (default from duration)")
    parser.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION,
                        help="hard bound in seconds (default 21600)")
    parser.add_argument("--host", help="host label (default: this host's name)")
    parser.add_argument("--no-nfs", action="store_true", help="leave out NFS mountstats")
    parser.add_argument("--vmstat", choices=("subset", "all"), default="subset")
    args = parser.parse_args(argv)
    try:
        result = run(args.output, args.interval, args.stop_file, args.max_samples, args.max_duration,
                     args.host, nfs=not args.no_nfs, vmstat=args.vmstat)
    except ValueError as exc:
        print(f"mlps_timeseries: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mlps_timeseries: cannot write --output {args.output}: {exc.strerror}; "
              "give a writable path", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
