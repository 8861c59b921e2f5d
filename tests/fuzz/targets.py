"""Fuzz targets and their input strategies, shared by the suite (tests/fuzz, tests/unit/
test_procfs_fuzz.py: a few hundred examples each) and the long run (benchmarks/bench_fuzz.py).

Each target takes one generated example and either returns or raises the documented UserError;
any other exception is a bug. The strategies build inputs from pieces of the real formats, so they
get past the first checks into the branches, plus arbitrary text and bytes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from mlps import jsonio
from mlps.campaign import frame
from mlps.errors import UserError
from mlps.results.reader import TreeError
from mlps.rulebook.verify import verify
from mlps_module_utils import mlps_procfs as procfs
from mlps_module_utils import mlps_timeseries
from tests.unit.test_rules_synthetic import build_training_workload, build_v1_workload

# --- /proc parsers -------------------------------------------------------------------------------
PARSERS = {
    "meminfo": (procfs.parse_meminfo, dict),
    "cpuinfo": (procfs.parse_cpuinfo, dict),
    "diskstats": (procfs.parse_diskstats, dict),
    "net_dev": (procfs.parse_net_dev, dict),
    "version": (procfs.parse_version, dict),
    "loadavg": (procfs.parse_loadavg, dict),
    "uptime": (procfs.parse_uptime, dict),
    "vmstat": (procfs.parse_vmstat, dict),
    "stat": (procfs.parse_stat, dict),
    "mounts": (procfs.parse_mounts, list),
    "mountinfo": (procfs.parse_mountinfo, list),
    "cgroups": (procfs.parse_cgroups, dict),
    "cgroup_controllers": (procfs.parse_cgroup_controllers, list),
    "os_release": (procfs.parse_os_release, dict),
    "mountstats": (mlps_timeseries.parse_mountstats, dict),
}

TOKENS = st.sampled_from([
    ":", " : ", "\t: ", "kB", "KB", "MB", "-", "|", "/", "=", '"', "'", "\\", "\\040", "\\134", "#",
    "processor", "cpu number", "processor 0", "physical id", "core id", "cpu cores", "model name",
    "CPU implementer", "CPU part", "CPU architecture", "0x41", "0xd0c", "vendor_id", "IBM/S390",
    "isa", "rv64imafdc", "uarch", "cpu", "POWER9", "timebase", "flags", "lm", "# processors",
    "machine", "version", "Linux", "cpu0", "ctxt", "intr", "shared:1", "ext4", "cgroup2", "0", "1",
    "-1", "12", "4096", "99999999999999999999", "0.5", "1/2", "sda", "eth0", "\n", "\n\n", " ", "\t",
    "device ", " mounted on ", " with fstype ", "nfs4", "nfs", "bytes:", "per-op statistics", "READ:",
    "WRITE:", "age:", "NAME=", "ID=", "VERSION_ID=", "PRETTY_NAME=", "$(", "`", "\x00", "\udcff",
])
LINEISH = st.lists(TOKENS | st.text(max_size=6), max_size=80).map("".join)
ANY_TEXT = st.text(max_size=400)
PROC_TEXT = LINEISH | ANY_TEXT


def check_parser(name: str, text: str) -> None:
    """A parser returns (data of its type, skip count) for any text, and the data is JSON."""
    parser, kind = PARSERS[name]
    data, skipped = parser(text)
    assert isinstance(data, kind)
    assert isinstance(skipped, int)
    assert 0 <= skipped <= max(1, len(text.splitlines()), text.count("\n") + 1)
    json.dumps(data)  # what comes out must be JSON for Ansible and the MPI gather


# A host root: some of the files the collector reads, each holding format-like or arbitrary text.
ROOT_FILES = ("proc/meminfo", "proc/cpuinfo", "proc/diskstats", "proc/net/dev", "proc/vmstat", "proc/stat",
              "proc/mounts", "proc/self/mountinfo", "proc/cgroups", "sys/fs/cgroup/cgroup.controllers",
              "etc/os-release", "proc/version", "proc/loadavg", "proc/uptime", "proc/sys/kernel/hostname",
              "etc/machine-id", "sys/class/net/eth0/mtu", "sys/devices/system/cpu/cpu0/topology/core_cpus_list",
              "sys/devices/system/cpu/cpu0/topology/package_cpus_list")
HOST_ROOTS = st.dictionaries(st.sampled_from(ROOT_FILES), PROC_TEXT | st.binary(max_size=200), max_size=10)


def check_collect(files: dict) -> None:
    """collect() and read_counters() on a root holding `files`: a document that passes its own check."""
    with tempfile.TemporaryDirectory(prefix="mlps-fuzz-root-") as root:
        for rel, content in files.items():
            path = Path(root, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content)
        doc = procfs.collect(root, paths=[root, "/nonexistent/x"], path_timeout=2.0)
        assert procfs.check_document(doc) == [], procfs.check_document(doc)
        json.dumps(doc)
        sample = procfs.read_counters(root)
        json.dumps(sample)


# --- JSON loading --------------------------------------------------------------------------------
JSON_TOKENS = st.sampled_from(['{', '}', '[', ']', '"', '\\', ':', ',', '"a"', '1', '-0', '1e999', 'NaN',
                               'true', 'null', ' ', '\n', '"\\u00e9"', '"\\ud800"', '\x00', '\ufeff'])
JSON_SOUP = st.lists(JSON_TOKENS, max_size=60).map("".join)
DEEP = st.builds(lambda n, o, c: o * n + c * n, st.integers(50, 3000), st.sampled_from(["[", '{"a":']),
                 st.sampled_from(["]", "}", ""]))
JSON_INPUT = (JSON_SOUP | DEEP | st.text(max_size=80)).flatmap(
    lambda text: st.sampled_from(["utf-8", "utf-16", "utf-32-le"]).map(
        lambda enc: text.encode(enc, "surrogatepass"))) | st.binary(max_size=120)


def check_parse_json(data: bytes) -> None:
    """parse_json returns a JSON value no deeper than the limit, or raises ReadError."""
    try:
        value = jsonio.parse_json(data, "fuzz.json")
    except jsonio.ReadError as exc:
        assert exc.kind in ("unparsable", "too_large") and "fuzz.json" in str(exc)
        return
    assert jsonio.shape_problem(value) is None      # parsed JSON never shares containers


# --- results trees -------------------------------------------------------------------------------
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=12) | st.sampled_from(["2026-01-05T10:00:00", "20260105_100000", "completed",
                                                    "unet3d", "h100", "b200", "run", "True", "-1", ""]))
JSON_VALUE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
KEYS = st.sampled_from(["start", "end", "metric", "num_accelerators", "num_hosts", "hostname", "num_files_train",
                        "host_memory_GB", "host_meminfo", "epochs", "train_au_percentage", "status", "model",
                        "args", "accelerator_type", "override_parameters", "parameters", "num_processes",
                        "hosts", "schema", "overall", "runs", "1", "duration", "workload", "dataset"])
PAYLOADS = st.one_of(
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    JSON_INPUT,
    st.sampled_from([b"", b"PRUNED BY STAFF", b"{}", b"[]", b"workload:\n  model: [", b"- a\n- [b\n",
                     b"a: &a [1, 1]\nb: [*a, *a]\n", b"workload:\n" + b"  x:\n" * 3, b"\xff\xfe"]),
)
NAMES = st.sampled_from(["summary.json", "per_epoch_stats.json", "0_per_epoch_stats.json", "0_output.json",
                         "training_20260105_100000_metadata.json", "cluster_info.json", "fs_separation.json",
                         "shared_fs.json", "provenance.json", "results.json", "mlperf_storage_report.json",
                         "config.yaml", "overrides.yaml", "hydra.yaml", "._summary.json", ".DS_Store",
                         "run-1", "20260105_100000", "dlio_config", ".hydra", "configs", "run", "datagen",
                         "collector-staging", "code", "training", "h100", "x"])
# One edit of a template tree: (operation, which existing path (index modulo their number), name, payload)
EDITS = st.lists(st.tuples(st.sampled_from(["write", "set_key", "delete", "add", "link_in", "link_out",
                                            "link_loop", "mkdir"]),
                           st.integers(0, 10_000), NAMES, PAYLOADS, KEYS, JSON_VALUE), min_size=1, max_size=6)
TEMPLATES = ("v3", "v1")


def _build_templates(base: Path) -> dict:
    out = {}
    for name in TEMPLATES:
        root = base / name
        (build_training_workload if name == "v3" else build_v1_workload)(root)
        out[name] = root
    return out


class TreeTarget:
    """Copies a valid template tree, applies the edits, verifies it: only UserError may escape, and
    the verdict document must serialise. Templates are built once per TreeTarget."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="mlps-fuzz-tree-")
        base = Path(self._dir.name)
        self.templates = _build_templates(base / "templates")
        self.outside = base / "outside.json"
        self.outside.write_text(json.dumps({"outside": True}))
        self.work = base / "work"

    def close(self) -> None:
        self._dir.cleanup()

    def __call__(self, template: str, edits: list) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        shutil.copytree(self.templates[template], self.work, symlinks=True)
        paths = sorted(self.work.rglob("*"))
        for op, index, name, payload, key, value in edits:
            _edit(paths, op, index, name, payload, key, value, self.outside)
        try:
            result = verify(self.work)
        except (UserError, TreeError):
            return
        json.dumps(result.as_dict(), default=str)


def _edit(paths, op, index, name, payload, key, value, outside) -> None:
    if not paths:
        return
    target = paths[index % len(paths)]
    if not target.exists() and not target.is_symlink():
        return
    plain_file = target.is_file() and not target.is_symlink()
    if op == "write" and plain_file:
        target.write_bytes(payload)
    elif op == "set_key" and plain_file and target.suffix == ".json":
        _set_key(target, key, value)
    elif op == "delete" and (plain_file or target.is_symlink()):
        target.unlink()
    else:
        folder = target if target.is_dir() and not target.is_symlink() else target.parent
        _add(folder / name, op, payload, target, outside)


def _set_key(path: Path, key: str, value) -> None:
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        return
    if isinstance(doc, dict):
        inner = doc["metric"] if isinstance(doc.get("metric"), dict) and key.startswith("train") else doc
        inner[key] = value
        path.write_text(json.dumps(doc))


def _add(new: Path, op: str, payload: bytes, target: Path, outside: Path) -> None:
    if new.exists() or new.is_symlink():
        return
    if op == "add":
        new.write_bytes(payload)
    elif op == "mkdir":
        new.mkdir()
    elif op == "link_in":
        new.symlink_to(target)
    elif op == "link_out":
        new.symlink_to(outside if "." in new.name else outside.parent)
    elif op == "link_loop":
        new.symlink_to(new)


# --- run metadata (the campaign's loader and writer) ---------------------------------------------
STATUSES = st.sampled_from(["running", "completed", "failed", "timed_out", "interrupted", "skipped", "bogus", None])
CHANGES = st.dictionaries(KEYS, JSON_VALUE, max_size=4).flatmap(
    lambda d: STATUSES.map(lambda s: {**d, "status": s} if s is not None else d))


def check_update_metadata(folder: Path, existing: bytes | None, changes: dict) -> None:
    """frame.update_metadata on a leaf whose metadata file holds `existing`: it merges and writes,
    or raises UserError and leaves the file as it was."""
    stamp = "20260105_100000"
    leaf = folder / stamp
    if leaf.exists():
        shutil.rmtree(leaf)
    leaf.mkdir(parents=True)
    path = leaf / frame.metadata_name(stamp, "training")
    if existing is not None:
        path.write_bytes(existing)
    try:
        merged = frame.update_metadata(leaf, stamp, changes, "training")
    except UserError:
        assert (path.read_bytes() if path.exists() else None) == existing
        return
    assert isinstance(merged, dict) and json.loads(path.read_text())["schema"] == merged["schema"]
