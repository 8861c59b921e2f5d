"""Host facts from /proc, /sys and /etc: pure parsers plus one collector (`mlps-host-facts/1`).

Every parser takes the text of one file and returns `(data, skipped)`, where `skipped` counts the
lines it could not read; no text makes a parser raise. `collect()` reads the files under a root
(`/` for the live host, or a copied /proc or sosreport) and turns every missing or unreadable
source into an `errors` entry. statvfs of user paths runs in child processes under a timeout
(`run_bounded`), so a hung NFS/FUSE mount cannot hang the caller.

Pure stdlib and runnable on its own (`python3 mlps_procfs.py --root DIR`), because the MPI
collection runs this very file on hosts that have no Ansible; kept to Python 3.8 syntax for that
reason (no match, no runtime `X | Y` types).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import select
import sys
import time

SCHEMA = "mlps-host-facts/1"
METHODS = ("ssh", "mpi", "local_fallback", "snapshot", "local")

# ---------------------------------------------------------------------------------------------
# Small helpers


def _int(text: str) -> int:
    return int(text, 10)


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def unescape_octal(text: str) -> str:
    """Undo the kernel's octal escapes in mount paths (`\\040` space, `\\011` tab, `\\134` backslash)."""
    if "\\" not in text:
        return text
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


# ---------------------------------------------------------------------------------------------
# /proc/meminfo



def _fields(text: str):
    """(line, its whitespace-separated fields) for every line of a /proc file that is not blank."""
    for line in text.splitlines():
        parts = line.split()
        if parts:
            yield line, parts

def parse_meminfo(text: str) -> tuple[dict, int]:
    """`Key: value kB` -> bytes; a value without unit (HugePages_Total) is a count and kept as is."""
    data: dict[str, int] = {}
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        key = key.strip()
        fields = rest.split()
        try:
            if not sep or not key or not 1 <= len(fields) <= 2:
                raise ValueError(line)
            value = _int(fields[0])
            if len(fields) == 2:
                if fields[1].lower() != "kb":
                    raise ValueError(line)
                value *= 1024
        except ValueError:
            skipped += 1
            continue
        data[key] = value
    return data, skipped


# ---------------------------------------------------------------------------------------------
# /proc/cpuinfo

# ARM "CPU implementer" codes and common "CPU part" codes (as listed by the Arm ARM and lscpu).
_ARM_IMPLEMENTERS = {
    0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x46: "Fujitsu", 0x48: "HiSilicon",
    0x4E: "NVIDIA", 0x50: "APM", 0x51: "Qualcomm", 0x53: "Samsung", 0x61: "Apple",
    0x6D: "Microsoft", 0xC0: "Ampere",
}
_ARM_PARTS = {
    (0x41, 0xB76): "ARM1176", (0x41, 0xC07): "Cortex-A7", (0x41, 0xC08): "Cortex-A8",
    (0x41, 0xC09): "Cortex-A9", (0x41, 0xC0F): "Cortex-A15", (0x41, 0xD03): "Cortex-A53",
    (0x41, 0xD04): "Cortex-A35", (0x41, 0xD05): "Cortex-A55", (0x41, 0xD07): "Cortex-A57",
    (0x41, 0xD08): "Cortex-A72", (0x41, 0xD09): "Cortex-A73", (0x41, 0xD0A): "Cortex-A75",
    (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1", (0x41, 0xD0D): "Cortex-A77",
    (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD41): "Cortex-A78", (0x41, 0xD44): "Cortex-X1",
    (0x41, 0xD46): "Cortex-A510", (0x41, 0xD47): "Cortex-A710", (0x41, 0xD48): "Cortex-X2",
    (0x41, 0xD49): "Neoverse-N2", (0x41, 0xD4A): "Neoverse-E1", (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD8E): "Neoverse-N3",
    (0x42, 0x516): "Vulcan", (0x43, 0x0A1): "ThunderX", (0x43, 0x0AF): "ThunderX2",
    (0x46, 0x001): "A64FX", (0x48, 0xD01): "Kunpeng-920", (0x4E, 0x004): "Carmel",
    (0xC0, 0xAC3): "Ampere-1", (0xC0, 0xAC4): "Ampere-1a",
}
_X86_VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls")
_S390_HEADER = re.compile(r"^processor (\d+)$")


def _cpuinfo_blocks(text: str) -> tuple[list, int]:
    """Split into blank-line separated blocks of (key, value); a line without `key:` is skipped."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            skipped += 1
            continue
        current.append((key, value.strip()))
    if current:
        blocks.append(current)
    return blocks, skipped


def _s390_header_fields(value: str) -> dict:
    """`version = FF,  identification = 0133E8,  machine = 2964` -> dict."""
    fields = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep and key.strip():
            fields[key.strip()] = val.strip()
    return fields


def _cpu_number(value: str) -> int | None:
    try:
        number = _int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def parse_cpuinfo(text: str) -> tuple[dict, int]:
    """Per-CPU entries, machine-wide keys and a summary, for x86, ARM, POWER, s390x and RISC-V.

    A CPU starts at `processor : N` (`cpu number : N` on s390x); keys seen outside any CPU (the
    POWER/ARM trailer, the s390x header) go to `machine`. Old ARM kernels list several bare
    `processor` lines followed by shared keys: those keys are copied to each of them. Legacy
    single-core ARM kernels have only `Processor : <name>`: one CPU.
    """
    blocks, skipped = _cpuinfo_blocks(text)
    cpus: list[dict] = []
    machine: dict[str, str] = {}
    s390_headers: dict[int, dict] = {}
    for block in blocks:
        in_block: list[dict] = []
        current: dict | None = None
        for key, value in block:
            if key in ("processor", "cpu number"):
                number = _cpu_number(value)
                if number is not None:
                    current = {"processor": number}
                    in_block.append(current)
                    continue
                if key == "processor":  # must carry a CPU number (the old ARM "Processor" is another key)
                    skipped += 1
                    continue
            header = _S390_HEADER.match(key)
            if header:
                s390_headers[_int(header.group(1))] = _s390_header_fields(value)
                continue
            target = current if current is not None else machine
            target.setdefault(key, value)
        if len(in_block) > 1 and all(len(cpu) == 1 for cpu in in_block[:-1]):
            shared = {k: v for k, v in in_block[-1].items() if k != "processor"}
            for cpu in in_block[:-1]:
                cpu.update(shared)
        cpus.extend(in_block)
    if not cpus and s390_headers:  # s390x kernels without per-CPU blocks: the header lines are the CPUs
        cpus = [dict(fields, processor=n) for n, fields in sorted(s390_headers.items())]
    if not cpus and "Processor" in machine:
        # Legacy single-core ARM kernels print `Processor : <name>` and no numbered `processor` line:
        # that file describes exactly one CPU, not zero.
        cpus = [{"processor": 0}]
    return {"summary": summarize_cpus(cpus, machine), "cpus": cpus, "machine": machine}, skipped


def _lookup(cpus: list, machine: dict, key: str) -> str | None:
    for source in (cpus[0] if cpus else {}, machine):
        value = source.get(key)
        if value:
            return value
    return None


def _hex(value: str | None) -> int | None:
    try:
        return int(value, 0) if value else None
    except ValueError:
        return None


def _arm_model(cpus: list, machine: dict) -> str | None:
    implementer = _hex(_lookup(cpus, machine, "CPU implementer"))
    part = _hex(_lookup(cpus, machine, "CPU part"))
    if implementer is None:
        return None
    known = _ARM_PARTS.get((implementer, part)) if part is not None else None
    vendor = _ARM_IMPLEMENTERS.get(implementer)
    if known:
        return f"{vendor} {known}"
    named = _lookup(cpus, machine, "model name")
    if named:
        return named
    part_text = f"part {part:#05x}" if part is not None else "part unknown"
    return f"{vendor} {part_text}" if vendor else f"implementer {implementer:#04x} {part_text}"


def _cpu_model(cpus: list, machine: dict) -> str | None:
    vendor = _lookup(cpus, machine, "vendor_id") or ""
    if vendor.startswith("IBM/S390"):
        number = _lookup(cpus, machine, "machine")
        return f"{vendor} {number}" if number else vendor
    arm = _arm_model(cpus, machine)
    if arm:
        return arm
    for key in ("model name", "cpu", "uarch", "isa", "Processor", "cpu model"):
        value = _lookup(cpus, machine, key)
        if value:
            return value
    return None


def _architecture(cpus: list, machine: dict) -> str | None:  # noqa: PLR0911 - one return per family
    vendor = _lookup(cpus, machine, "vendor_id") or ""
    if vendor.startswith("IBM/S390") or "# processors" in machine:
        return "s390x"
    isa = _lookup(cpus, machine, "isa") or ""
    if isa.startswith("rv64"):
        return "riscv64"
    if isa.startswith("rv32"):
        return "riscv32"
    if _lookup(cpus, machine, "CPU implementer"):
        arch = _lookup(cpus, machine, "CPU architecture") or ""
        if arch in ("8", "9", "AArch64"):
            return "aarch64"
        return f"armv{arch}l" if arch.isdigit() else "arm"
    cpu = (_lookup(cpus, machine, "cpu") or "").upper()
    if cpu.startswith(("POWER", "PPC")) or "timebase" in machine:
        return "ppc64le"  # a guess: cpuinfo does not say the byte order; collect() uses uname live
    flags = _lookup(cpus, machine, "flags")
    if flags is not None or vendor in _X86_VENDORS:
        return "x86_64" if flags and " lm " in f" {flags} " else "i686"
    return None


def summarize_cpus(cpus: list, machine: dict) -> dict:
    """Sockets, physical cores and logical CPUs, with where the topology came from.

    Cores are unique (physical id, core id) pairs when every CPU has both (x86, newer s390x); else
    `cpu cores` x sockets; else one core per logical CPU (`topology_source: assumed`), which
    collect() replaces with the sysfs topology when it can read it.
    """
    logical = len(cpus)
    if not logical:
        logical = _cpu_number(machine.get("# processors", "")) or 0
    packages = {cpu["physical id"] for cpu in cpus if "physical id" in cpu}
    pairs = {(cpu.get("physical id"), cpu.get("core id")) for cpu in cpus}
    sockets = len(packages) or (1 if logical else 0)
    cores_per_socket = _cpu_number(_lookup(cpus, machine, "cpu cores") or "")
    if cpus and all("physical id" in cpu and "core id" in cpu for cpu in cpus):
        cores, source = len(pairs), "cpuinfo"
    elif cores_per_socket:
        cores, source = min(cores_per_socket * sockets, logical), "cpuinfo"
    else:
        cores, source = logical, "assumed"
    return {
        "model": _cpu_model(cpus, machine),
        "architecture": _architecture(cpus, machine),
        "sockets": sockets,
        "physical_cores": cores,
        "logical_cpus": logical,
        "topology_source": source,
    }


def summarize_sysfs_topology(threads: list) -> tuple[int, int] | None:
    """(sockets, cores) from per-CPU (core siblings list, package siblings list) strings."""
    if not threads:
        return None
    cores = {core for core, _package in threads}
    packages = {package for _core, package in threads}
    return len(packages), len(cores)


# ---------------------------------------------------------------------------------------------
# /proc/diskstats, /proc/net/dev, /proc/vmstat, /proc/stat

_DISK_FIELDS = (
    "reads_completed", "reads_merged", "sectors_read", "read_time_ms",
    "writes_completed", "writes_merged", "sectors_written", "write_time_ms",
    "ios_in_progress", "io_time_ms", "weighted_io_time_ms",
    "discards_completed", "discards_merged", "sectors_discarded", "discard_time_ms",  # 4.18+
    "flushes_completed", "flush_time_ms",  # 5.5+
)
# Partitions on kernels before 2.6.25 had only four counters.
_DISK_FIELDS_SHORT = ("reads_completed", "sectors_read", "writes_completed", "sectors_written")


def parse_diskstats(text: str) -> tuple[dict, int]:
    """Lines of 14 (pre-4.18), 18 (4.18+ discards) or 20 (5.5+ flushes) fields; 7 for old partitions.

    Longer lines (a newer kernel) keep the 17 known counters; any other length is skipped.
    """
    data: dict[str, dict] = {}
    skipped = 0
    for _line, parts in _fields(text):
        count = len(parts)
        if count == 7:
            names = _DISK_FIELDS_SHORT
        elif count in (14, 18) or count >= 20:
            names = _DISK_FIELDS
        else:
            skipped += 1
            continue
        try:
            numbers = [_int(x) for x in parts[3:3 + len(names)]]
            device = {"major": _int(parts[0]), "minor": _int(parts[1])}
        except ValueError:
            skipped += 1
            continue
        if parts[2] in data:
            skipped += 1
            continue
        device.update(zip(names, numbers))
        data[parts[2]] = device
    return data, skipped


_NET_FIELDS = (
    "rx_bytes", "rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame", "rx_compressed", "rx_multicast",
    "tx_bytes", "tx_packets", "tx_errs", "tx_drop", "tx_fifo", "tx_colls", "tx_carrier", "tx_compressed",
)


def parse_net_dev(text: str) -> tuple[dict, int]:
    """`iface: 16 counters`; the two `|` header lines are not data."""
    data: dict[str, dict] = {}
    skipped = 0
    for line in text.splitlines():
        if not line.strip() or "|" in line:
            continue
        name, sep, rest = line.rpartition(":")  # counters never hold ':'; old kernels glue them to it
        name = name.strip()
        fields = rest.split()
        try:
            if not sep or not name or len(fields) < len(_NET_FIELDS):
                raise ValueError(line)
            data[name] = dict(zip(_NET_FIELDS, (_int(x) for x in fields)))
        except ValueError:
            skipped += 1
    return data, skipped


def parse_vmstat(text: str) -> tuple[dict, int]:
    data: dict[str, int] = {}
    skipped = 0
    for line, parts in _fields(text):
        try:
            if len(parts) != 2:
                raise ValueError(line)
            data[parts[0]] = _int(parts[1])
        except ValueError:
            skipped += 1
    return data, skipped


_CPU_TIMES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
_STAT_SCALARS = ("ctxt", "btime", "processes", "procs_running", "procs_blocked")


def parse_stat(text: str) -> tuple[dict, int]:
    """`cpu`/`cpuN` time lines (in USER_HZ ticks) and the scalar counters (ctxt, processes, ...).

    Returns {"cpu": {"cpu": {...}, "cpu0": {...}}, "counters": {...}}; `intr` and `softirq` keep
    only their totals. Older kernels print fewer cpu columns; at least four are required.
    """
    cpu: dict[str, dict] = {}
    counters: dict[str, int] = {}
    skipped = 0
    for line, parts in _fields(text):
        key = parts[0]
        try:
            if key.startswith("cpu"):
                if len(parts) < 5 or (key != "cpu" and not key[3:].isdigit()):
                    raise ValueError(line)
                cpu[key] = dict(zip(_CPU_TIMES, (_int(x) for x in parts[1:])))
            elif key in _STAT_SCALARS or key in ("intr", "softirq"):
                counters[key] = _int(parts[1])
        except (ValueError, IndexError):
            skipped += 1
    return {"cpu": cpu, "counters": counters}, skipped


# ---------------------------------------------------------------------------------------------
# /proc/version, /proc/loadavg, /proc/uptime


def parse_version(text: str) -> tuple[dict, int]:
    """`Linux version 6.1.0-18-amd64 (builder) ... #1 SMP ...` -> release and the whole line."""
    line = text.strip()
    parts = line.split()
    if len(parts) >= 3 and parts[1] == "version":
        return {"release": parts[2], "version_string": line}, 0
    return {"release": None, "version_string": line or None}, 1 if line else 0


def parse_loadavg(text: str) -> tuple[dict, int]:
    """`0.02 0.04 0.05 1/497 11947`: three loads, running/total scheduling entities, last PID."""
    parts = text.split()
    try:
        running, total = parts[3].split("/")
        return {
            "load1": float(parts[0]), "load5": float(parts[1]), "load15": float(parts[2]),
            "running": _int(running), "total": _int(total), "last_pid": _int(parts[4]),
        }, 0
    except (ValueError, IndexError):
        return {}, 1 if text.strip() else 0


def parse_uptime(text: str) -> tuple[dict, int]:
    parts = text.split()
    try:
        if len(parts) != 2:
            raise ValueError(text)
        return {"uptime_seconds": float(parts[0]), "idle_seconds": float(parts[1])}, 0
    except ValueError:
        return {}, 1 if text.strip() else 0


# ---------------------------------------------------------------------------------------------
# /proc/mounts, /proc/self/mountinfo


def parse_mounts(text: str) -> tuple[list, int]:
    """`device mountpoint fstype options dump pass` with octal escapes decoded."""
    mounts: list[dict] = []
    skipped = 0
    for _line, parts in _fields(text):
        if len(parts) < 4:
            skipped += 1
            continue
        mounts.append({
            "device": unescape_octal(parts[0]),
            "mountpoint": unescape_octal(parts[1]),
            "fstype": parts[2],
            "options": parts[3].split(","),
        })
    return mounts, skipped


def parse_mountinfo(text: str) -> tuple[list, int]:
    """`id parent major:minor root mountpoint options [optional...] - fstype source super_options`."""
    mounts: list[dict] = []
    skipped = 0
    for line, parts in _fields(text):
        try:
            sep = parts.index("-", 6)
            if len(parts) < sep + 3:
                raise ValueError(line)
            mounts.append({
                "mount_id": _int(parts[0]),
                "parent_id": _int(parts[1]),
                "major_minor": parts[2],
                "root": unescape_octal(parts[3]),
                "mountpoint": unescape_octal(parts[4]),
                "options": parts[5].split(","),
                "optional_fields": parts[6:sep],
                "fstype": parts[sep + 1],
                "source": unescape_octal(parts[sep + 2]),
                "super_options": parts[sep + 3].split(",") if len(parts) > sep + 3 else [],
            })
        except ValueError:
            skipped += 1
    return mounts, skipped


def mount_for(path: str, mounts: list) -> dict | None:
    """The mount holding `path` (absolute, already resolved): longest mountpoint prefix, and of
    equal ones the last listed, since a later mount on the same point hides the earlier one."""
    best = None
    best_len = -1
    for mount in mounts:
        point = mount.get("mountpoint") or ""
        if not point.startswith("/"):
            continue
        prefix = point.rstrip("/") + "/"
        if (path == point or path.startswith(prefix)) and len(point) >= best_len:
            best, best_len = mount, len(point)
    return best


# ---------------------------------------------------------------------------------------------
# cgroups


def parse_cgroups(text: str) -> tuple[dict, int]:
    """/proc/cgroups: `subsys hierarchy num_cgroups enabled` per controller."""
    data: dict[str, dict] = {}
    skipped = 0
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 4:
                raise ValueError(line)
            data[parts[0]] = {"hierarchy": _int(parts[1]), "num_cgroups": _int(parts[2]),
                              "enabled": _int(parts[3]) != 0}
        except ValueError:
            skipped += 1
    return data, skipped


def parse_cgroup_controllers(text: str) -> tuple[list, int]:
    """cgroup v2 `cgroup.controllers`: one line of space-separated names."""
    return text.split(), 0


def cgroup_summary(controllers: dict, mounts: list, v2_controllers: list | None) -> dict:
    """Version (2 when the unified hierarchy sits at /sys/fs/cgroup), mode and controllers.

    mode: unified (v2 only), hybrid (v1 controllers plus a v2 tree elsewhere), legacy (v1 only).
    """
    fstypes_at = {}
    for mount in mounts:
        fstypes_at.setdefault(mount.get("fstype"), []).append(mount.get("mountpoint"))
    v2_root = v2_controllers is not None or "/sys/fs/cgroup" in fstypes_at.get("cgroup2", [])
    if v2_root:
        version, mode = 2, "unified"
    elif "cgroup2" in fstypes_at:
        version, mode = 1, "hybrid"
    elif "cgroup" in fstypes_at or controllers:
        version, mode = 1, "legacy"
    else:
        version, mode = None, None
    merged = {name: dict(info) for name, info in controllers.items()}
    for name in v2_controllers or ():
        merged.setdefault(name, {"hierarchy": 0, "num_cgroups": None, "enabled": True})
    return {"version": version, "mode": mode, "controllers": merged,
            "v2_controllers": list(v2_controllers) if v2_controllers is not None else None}


# ---------------------------------------------------------------------------------------------
# /etc/os-release

_OS_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _unquote_shell(value: str) -> str:
    """os-release values: double quotes (with \\ escapes), single quotes (literal), or bare."""
    if value[:1] in ("'", '"'):
        quote = value[0]
        if len(value) < 2 or value[-1] != quote:
            raise ValueError(value)
        inner = value[1:-1]
        if quote == "'":
            return inner
        return re.sub(r'\\([\\"$`])', r"\1", inner)
    out = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            out.append(next(chars, ""))
        elif char in " \t'\"":  # unescaped blank or quote: the line is not valid shell
            raise ValueError(value)
        else:
            out.append(char)
    return "".join(out)


def parse_os_release(text: str) -> tuple[dict, int]:
    data: dict[str, str] = {}
    skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        try:
            if not sep or not _OS_KEY.match(key):
                raise ValueError(line)
            data[key] = _unquote_shell(value)
        except ValueError:
            skipped += 1
    return data, skipped


# ---------------------------------------------------------------------------------------------
# Reading files under a root


def _path(root: str, relative: str) -> str:
    return os.path.join(root, relative)


def read_text(root: str, relative: str) -> str:
    with open(_path(root, relative), encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Sources:
    """Reads and parses sources under one root, filling `errors` and `skipped` as it goes."""

    def __init__(self, root: str):
        self.root = root
        self.errors: dict[str, str] = {}
        self.skipped: dict[str, int] = {}

    def read(self, source: str, candidates: tuple) -> str | None:
        """Text of the first candidate file that exists; an error entry if none can be read."""
        first_error = None
        for relative in candidates:
            try:
                return read_text(self.root, relative)
            except FileNotFoundError as exc:
                first_error = first_error or exc
            except (OSError, ValueError) as exc:
                self.errors[source] = _error(exc)
                return None
        self.errors[source] = _error(first_error) if first_error else "no candidate file"
        return None

    def value(self, source: str, candidates: tuple) -> str | None:
        """First line of a one-value file (hostname, machine-id), None when absent or empty."""
        text = self.read(source, candidates)
        lines = text.strip().splitlines() if text is not None else []
        return lines[0].strip() if lines else None

    def parse(self, source: str, candidates: tuple, parser, empty):
        text = self.read(source, candidates)
        if text is None:
            return empty
        try:
            data, skipped = parser(text)
        except Exception as exc:  # last line of defence: a parser bug becomes an error entry
            self.errors[source] = f"parser failed: {_error(exc)}"
            return empty
        self.skipped[source] = skipped
        return data


_MEMINFO_FILES = ("proc/meminfo",)
_CPUINFO_FILES = ("proc/cpuinfo",)
_DISKSTATS_FILES = ("proc/diskstats",)
_NETDEV_FILES = ("proc/net/dev",)
_VMSTAT_FILES = ("proc/vmstat",)
_STAT_FILES = ("proc/stat",)
_MOUNTS_FILES = ("proc/mounts", "proc/self/mounts", "proc/1/mounts")
_MOUNTINFO_FILES = ("proc/self/mountinfo", "proc/1/mountinfo")
_OS_RELEASE_FILES = ("etc/os-release", "usr/lib/os-release")
_HOSTNAME_FILES = ("proc/sys/kernel/hostname", "etc/hostname")
_MACHINE_ID_FILES = ("etc/machine-id", "var/lib/dbus/machine-id")


def _net_mtu(root: str, errors: dict, skipped: dict) -> dict:
    base = _path(root, "sys/class/net")
    try:
        names = sorted(os.listdir(base))
    except OSError as exc:
        errors["net_mtu"] = _error(exc)
        return {}
    mtu: dict[str, int] = {}
    bad = 0
    for name in names:
        try:
            mtu[name] = _int(read_text(base, os.path.join(name, "mtu")).strip())
        except (OSError, ValueError):
            bad += 1  # a class/net entry without a readable mtu (e.g. bonding_masters)
    skipped["net_mtu"] = bad
    return mtu


def _sysfs_topology(root: str, cpu_numbers: list) -> tuple[int, int] | None:
    """(sockets, cores) from sys/devices/system/cpu/cpuN/topology of the CPUs cpuinfo listed
    (offline CPUs have no topology), or None when any of them cannot be read."""
    base = _path(root, "sys/devices/system/cpu")
    threads = []
    for number in cpu_numbers:
        topo = os.path.join(base, f"cpu{number}", "topology")
        found = []
        for candidates in (("core_cpus_list", "thread_siblings_list"), ("package_cpus_list", "core_siblings_list")):
            for name in candidates:
                try:
                    found.append(read_text(topo, name).strip())
                    break
                except OSError:
                    continue
        if len(found) != 2:
            return None  # a partial count would mislead more than the cpuinfo fallback
        threads.append((found[0], found[1]))
    return summarize_sysfs_topology(threads)


# ---------------------------------------------------------------------------------------------
# Work on user paths, bounded in time
#
# A call that touches a hung NFS or FUSE mount can block for ever, and a thread blocked there can
# neither be killed nor stop the process from exiting (a thread in uninterruptible sleep keeps the
# process, and the stdout pipe Ansible waits on, alive). So each call runs in a forked child that
# holds no descriptor of ours but its own result pipe: at the deadline it is SIGKILLed and, if the
# kernel will not let it die yet, simply abandoned; the caller goes on and can exit.


def _child(func, args, write_fd: int) -> None:
    """In the forked child: detach from every inherited descriptor, run, send the JSON result."""
    code = 1
    try:
        if write_fd < 3:  # a caller without stdin/stdout: move the pipe clear of 0-2 first
            write_fd = _high_fd(write_fd)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, max(write_fd + 1, os.sysconf("SC_OPEN_MAX")))
        try:
            payload = {"value": func(*args)}
        except Exception as exc:  # the call's failure is its result, never the caller's exception
            payload = {"error": _error(exc)}
        data = json.dumps(payload, default=str).encode("utf-8")
        while data:
            data = data[os.write(write_fd, data):]
        code = 0
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


def _high_fd(fd: int) -> int:
    import fcntl  # noqa: PLC0415 - POSIX only, needed only in this corner
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 3)


def _reap(pid: int, grace: float) -> bool:
    """Wait up to `grace` seconds for a child to be gone; False leaves it behind (never blocks)."""
    deadline = time.monotonic() + grace
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def run_bounded(jobs: dict, timeout: float) -> dict:
    """Run every job in parallel, each in a forked child bounded by its own timeout.

    jobs: key -> (func, args) or (func, args, timeout); func's result must be JSON-serialisable.
    Returns key -> {"value", "error", "timed_out"}: value is func's result, error the text of the
    exception it raised, timed_out True when it had not answered by its deadline (then killed).
    """
    start = time.monotonic()
    running = {}
    results = {}
    for key, job in jobs.items():
        func, args = job[0], tuple(job[1])
        limit = float(job[2]) if len(job) > 2 else float(timeout)
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            os.close(read_fd)
            _child(func, args, write_fd)
        os.close(write_fd)
        running[read_fd] = {"key": key, "pid": pid, "deadline": start + limit, "limit": limit, "data": b""}
    while running:
        now = time.monotonic()
        for fd in [fd for fd, job in running.items() if job["deadline"] <= now]:
            job = running.pop(fd)
            os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(job["pid"], 9)  # SIGKILL ends a wait on a FUSE/NFS answer that is still queued
            _reap(job["pid"], 0.2)
            results[job["key"]] = {"value": None, "timed_out": True,
                                   "error": "did not answer within %g s" % job["limit"]}
        if not running:
            break
        wait = max(0.0, min(job["deadline"] for job in running.values()) - time.monotonic())
        ready, _w, _x = select.select(list(running), [], [], wait)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                running[fd]["data"] += chunk
                continue
            job = running.pop(fd)
            os.close(fd)
            _reap(job["pid"], 1.0)
            results[job["key"]] = _decode(job["data"])
    return {key: results[key] for key in jobs}


def _decode(data: bytes) -> dict:
    try:
        payload = json.loads(data.decode("utf-8"))
    except ValueError:
        return {"value": None, "timed_out": False, "error": "the worker process died without an answer"}
    return {"value": payload.get("value"), "timed_out": False, "error": payload.get("error")}


def probe_path(path: str, mounts: list, statvfs=None, out=None) -> dict:
    """realpath, first existing ancestor, mount and statvfs of one path (touches the path: bound it).
    Fills `out` as it goes, so a caller that catches a failure keeps what was found before it."""
    statvfs = statvfs or os.statvfs
    out = {} if out is None else out
    resolved = os.path.realpath(path)
    probe = resolved
    exists = os.path.exists(probe)
    while not os.path.exists(probe) and probe != os.path.dirname(probe):
        probe = os.path.dirname(probe)
    out.update({"realpath": resolved, "exists": exists, "probed": probe})
    mount = mount_for(probe, mounts)
    if mount:
        out.update({"mountpoint": mount["mountpoint"], "fstype": mount["fstype"],
                    "device": mount["device"], "mount_options": mount["options"]})
    st = statvfs(probe)
    out.update({
        "total_bytes": st.f_blocks * st.f_frsize,
        "free_bytes": st.f_bfree * st.f_frsize,
        "avail_bytes": st.f_bavail * st.f_frsize,
        "total_inodes": st.f_files,
        "free_inodes": st.f_ffree,
        "f_frsize": st.f_frsize,
        "readonly": bool(st.f_flag & getattr(os, "ST_RDONLY", 1)),
    })
    return out


def _path_entry(path: str, mounts: list) -> dict:
    """The entry before probing: mount found lexically, so a timed-out path still names its mount."""
    entry = {"path": path, "realpath": None, "exists": None, "probed": None, "mountpoint": None,
             "fstype": None, "device": None, "mount_options": None, "total_bytes": None,
             "free_bytes": None, "avail_bytes": None, "total_inodes": None, "free_inodes": None,
             "f_frsize": None, "readonly": None, "error": None}
    mount = mount_for(os.path.normpath(path), mounts) if path.startswith("/") else None
    if mount:
        entry.update({"mountpoint": mount["mountpoint"], "fstype": mount["fstype"],
                      "device": mount["device"], "mount_options": mount["options"]})
    return entry


def probe_paths(paths, mounts: list, timeout: float = 5.0, statvfs=None, live: bool = True) -> dict:
    """statvfs and mount of each path, all in parallel child processes, each bounded by `timeout`.

    A path that has not answered at the deadline gets `statvfs timed out after Ns`; its child is
    killed, or left behind when the kernel holds it (see run_bounded).
    """
    results: dict[str, dict] = {}
    jobs = {}
    for path in paths:
        if path in results:
            continue
        entry = _path_entry(path, mounts)
        results[path] = entry
        if not path.startswith("/"):
            entry["error"] = f"path {path!r} is not absolute; give an absolute path such as /mnt/data"
        elif not live:
            entry["error"] = "statvfs skipped: root is a snapshot, not the live filesystem"
        else:
            jobs[path] = (probe_path, (path, mounts, statvfs))
    for path, outcome in run_bounded(jobs, timeout).items():
        if outcome["timed_out"]:
            results[path]["error"] = f"statvfs timed out after {timeout:g}s"
        elif outcome["error"]:
            results[path]["error"] = outcome["error"]
        else:
            results[path].update(outcome["value"])
    return results


# ---------------------------------------------------------------------------------------------
# The whole document


def _now_utc() -> str:
    # timezone.utc, not datetime.UTC: this file must run on Python 3.8.
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_live(root: str) -> bool:
    return os.path.realpath(root) == "/"


def collect(root: str = "/", paths=(), path_timeout: float = 5.0, gather_cpus: bool = True,
            method: str | None = None, statvfs=None) -> dict:
    """The `mlps-host-facts/1` document for the host whose /proc, /sys and /etc are under `root`.

    method defaults to `local` for the live root and `snapshot` for any other root. Never raises
    for anything found on disk: each unreadable source is an entry in `errors`.
    """
    started = time.perf_counter()
    live = is_live(root)
    src = _Sources(root)
    collected_at = _now_utc()

    hostname = src.value("hostname", _HOSTNAME_FILES)
    if hostname is None and live:
        hostname = os.uname().nodename
    meminfo = src.parse("meminfo", _MEMINFO_FILES, parse_meminfo, {})
    cpuinfo = src.parse("cpuinfo", _CPUINFO_FILES, parse_cpuinfo, None)
    if cpuinfo is None:
        cpuinfo = {"summary": summarize_cpus([], {}), "cpus": [], "machine": {}}
    summary = cpuinfo["summary"]
    if summary["topology_source"] == "assumed" and summary["logical_cpus"]:
        topology = _sysfs_topology(root, [cpu["processor"] for cpu in cpuinfo["cpus"]])
        if topology:
            summary["sockets"], summary["physical_cores"] = topology
            summary["topology_source"] = "sysfs"
    if live:
        summary["architecture"] = os.uname().machine
    if not gather_cpus:
        cpuinfo["cpus"] = []
    mounts = src.parse("mounts", _MOUNTS_FILES, parse_mounts, [])
    mountinfo = src.parse("mountinfo", _MOUNTINFO_FILES, parse_mountinfo, [])
    lookup_mounts = mounts or [
        {"device": m["source"], "mountpoint": m["mountpoint"], "fstype": m["fstype"], "options": m["options"]}
        for m in mountinfo
    ]
    controllers = src.parse("cgroups", ("proc/cgroups",), parse_cgroups, {})
    v2 = None
    if os.path.exists(_path(root, "sys/fs/cgroup/cgroup.controllers")):
        v2 = src.parse("cgroup_controllers", ("sys/fs/cgroup/cgroup.controllers",),
                       parse_cgroup_controllers, None)
    stat = src.parse("stat", _STAT_FILES, parse_stat, {"cpu": {}, "counters": {}})
    skipped = src.skipped
    doc = {
        "schema": SCHEMA,
        "hostname": hostname,
        "machine_id": src.value("machine_id", _MACHINE_ID_FILES),
        "boot_id": src.value("boot_id", ("proc/sys/kernel/random/boot_id",)),
        "collected_at": collected_at,
        "collection_method": method or ("local" if live else "snapshot"),
        "root": root,
        "kernel": src.parse("kernel", ("proc/version",), parse_version,
                            {"release": None, "version_string": None}),
        "os_release": src.parse("os_release", _OS_RELEASE_FILES, parse_os_release, {}),
        "meminfo": meminfo,
        "cpuinfo": cpuinfo,
        "loadavg": src.parse("loadavg", ("proc/loadavg",), parse_loadavg, {}),
        "uptime": src.parse("uptime", ("proc/uptime",), parse_uptime, {}),
        "stat_cpu": stat["cpu"],
        "stat": stat["counters"],
        "vmstat": src.parse("vmstat", _VMSTAT_FILES, parse_vmstat, {}),
        "diskstats": src.parse("diskstats", _DISKSTATS_FILES, parse_diskstats, {}),
        "net_dev": src.parse("net_dev", _NETDEV_FILES, parse_net_dev, {}),
        "net_mtu": _net_mtu(root, src.errors, skipped),
        "mounts": mounts,
        "mountinfo": mountinfo,
        "cgroups": cgroup_summary(controllers, lookup_mounts, v2),
        "paths": probe_paths(list(paths), lookup_mounts, path_timeout, statvfs=statvfs, live=live),
        "errors": src.errors,
        "skipped": skipped,
    }
    doc["collector"] = {
        "name": "mlps_procfs",
        "python": "%d.%d.%d" % sys.version_info[:3],
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 3),
    }
    return doc


_TOP_LEVEL_TYPES = {
    "kernel": dict, "os_release": dict, "meminfo": dict, "cpuinfo": dict, "loadavg": dict,
    "uptime": dict, "stat_cpu": dict, "stat": dict, "vmstat": dict, "diskstats": dict, "net_dev": dict,
    "net_mtu": dict, "mounts": list, "mountinfo": list, "cgroups": dict, "paths": dict,
    "errors": dict, "skipped": dict,
}
_SUMMARY_INTS = ("sockets", "physical_cores", "logical_cpus")
_PATH_KEYS = ("path", "exists", "mountpoint", "fstype", "device", "total_bytes", "free_bytes",
              "avail_bytes", "f_frsize", "error")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def check_document(doc) -> list:
    """Problems that make `doc` not a `mlps-host-facts/1` document (empty list when it is one).

    For consumers of documents that crossed a process boundary (mpirun ranks, saved files).
    """
    if not isinstance(doc, dict):
        return [f"expected a JSON object, got {type(doc).__name__}"]
    problems = []
    if doc.get("schema") != SCHEMA:
        problems.append(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    for key in ("hostname", "machine_id"):
        if key not in doc or not isinstance(doc[key], (str, type(None))):
            problems.append(f"{key}: expected a string or null")
    if not _TIMESTAMP.match(str(doc.get("collected_at"))):
        problems.append(f"collected_at {doc.get('collected_at')!r}: expected UTC like 2026-01-31T12:00:00Z")
    if doc.get("collection_method") not in METHODS:
        problems.append(f"collection_method {doc.get('collection_method')!r}: expected one of {METHODS}")
    for key, kind in _TOP_LEVEL_TYPES.items():
        if not isinstance(doc.get(key), kind):
            problems.append(f"{key}: expected {kind.__name__}, got {type(doc.get(key)).__name__}")
    return problems or _check_sections(doc)


def _check_sections(doc: dict) -> list:
    problems = []
    if not all(isinstance(v, int) for v in doc["meminfo"].values()):
        problems.append("meminfo: every value must be an integer (bytes or a count)")
    summary = doc["cpuinfo"].get("summary")
    if not isinstance(summary, dict) or not all(isinstance(summary.get(k), int) for k in _SUMMARY_INTS):
        problems.append(f"cpuinfo.summary: expected integers {', '.join(_SUMMARY_INTS)}")
    if not isinstance(doc["cpuinfo"].get("cpus"), list):
        problems.append("cpuinfo.cpus: expected a list")
    for path, entry in doc["paths"].items():
        missing = [k for k in _PATH_KEYS if k not in (entry if isinstance(entry, dict) else {})]
        if missing:
            problems.append(f"paths[{path}]: missing {', '.join(missing)}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc["errors"].items()):
        problems.append("errors: expected {source: message} strings")
    if not all(isinstance(v, int) and v >= 0 for v in doc["skipped"].values()):
        problems.append("skipped: expected {source: count} with counts >= 0")
    if "version" not in doc["cgroups"] or not isinstance(doc["cgroups"].get("controllers"), dict):
        problems.append("cgroups: expected version and controllers")
    return problems


# ---------------------------------------------------------------------------------------------
# Counters for the time-series sampler (one cheap pass, no summary work)

SAMPLE_MEMINFO_KEYS = (
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "Dirty", "Writeback",
    "Active(file)", "Inactive(file)", "Shmem", "SwapTotal", "SwapFree",
)


def read_counters(root: str = "/", meminfo_keys=SAMPLE_MEMINFO_KEYS) -> dict:
    """One sample of the moving counters: diskstats, net/dev, vmstat, /proc/stat, a meminfo subset.

    Values are raw counters (rates are derived later); `errors`/`skipped` as in collect().
    """
    src = _Sources(root)
    wall, mono = time.time(), time.monotonic()
    meminfo = src.parse("meminfo", _MEMINFO_FILES, parse_meminfo, {})
    stat = src.parse("stat", _STAT_FILES, parse_stat, {"cpu": {}, "counters": {}})
    return {
        "wall_time": wall,
        "monotonic": mono,
        "diskstats": src.parse("diskstats", _DISKSTATS_FILES, parse_diskstats, {}),
        "net_dev": src.parse("net_dev", _NETDEV_FILES, parse_net_dev, {}),
        "vmstat": src.parse("vmstat", _VMSTAT_FILES, parse_vmstat, {}),
        "stat_cpu": stat["cpu"],
        "stat": stat["counters"],
        "meminfo": {k: meminfo[k] for k in meminfo_keys if k in meminfo},
        "errors": src.errors,
        "skipped": src.skipped,
    }


# ---------------------------------------------------------------------------------------------
# Command line: python3 mlps_procfs.py [--root DIR] [--path P ...] [--method M]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlps_procfs.py",
        description=f"Print the {SCHEMA} JSON for the /proc, /sys and /etc found under --root.")
    parser.add_argument("--root", default="/", help="directory holding proc/, sys/, etc/ (default: /)")
    parser.add_argument("--path", dest="paths", action="append", default=[], metavar="P",
                        help="absolute path to statvfs and locate among the mounts (repeatable)")
    parser.add_argument("--path-timeout", type=float, default=5.0, metavar="S",
                        help="seconds allowed for each path's statvfs (default: 5)")
    parser.add_argument("--method", choices=METHODS, default=None,
                        help="collection_method to record (default: local for /, snapshot otherwise)")
    parser.add_argument("--no-cpus", action="store_true", help="leave out the per-CPU list")
    parser.add_argument("--compact", action="store_true", help="print one line of JSON")
    args = parser.parse_args(argv)
    problems = []
    if not os.path.isdir(args.root):
        problems.append(f"--root {args.root}: not a directory; expected a directory holding proc/ and "
                        "etc/ (/ for this host, or a copied /proc tree or sosreport)")
    if not args.path_timeout > 0:
        problems.append(f"--path-timeout {args.path_timeout:g}: expected a number of seconds above 0, "
                        "such as 5")
    problems += [f"--path {p}: not absolute; give an absolute path such as /mnt/data"
                 for p in args.paths if not p.startswith("/")]
    if problems:
        for problem in problems:
            print(f"mlps_procfs: {problem}", file=sys.stderr)
        return 2
    doc = collect(root=args.root, paths=args.paths, path_timeout=args.path_timeout,
                  gather_cpus=not args.no_cpus, method=args.method)
    try:
        sys.stdout.write(json.dumps(doc, indent=None if args.compact else 2) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # reader went away (| head): not our failure, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
