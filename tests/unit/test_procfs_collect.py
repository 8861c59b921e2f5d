"""collect(), the standalone script and the statvfs timeout: on this host and on copied trees."""

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlps_module_utils import mlps_procfs as procfs

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "module_utils" / "mlps_procfs.py"
FIXTURES = ROOT / "tests" / "fixtures" / "procfs"
HAND = FIXTURES / "handwritten"


def build_tree(base: Path) -> Path:
    """A host's /proc, /sys and /etc as a copied snapshot would hold them."""
    tree = base / "snapshot"
    shutil.copytree(FIXTURES / "prometheus-procfs" / "proc", tree / "proc")
    for name in ("version", "uptime", "vmstat", "mounts", "cgroups"):
        shutil.copy(HAND / name, tree / "proc" / name)
    (tree / "proc" / "self").mkdir()
    shutil.copy(HAND / "mountinfo", tree / "proc" / "self" / "mountinfo")
    (tree / "proc" / "sys" / "kernel" / "random").mkdir(parents=True)
    (tree / "proc" / "sys" / "kernel" / "hostname").write_text("client07\n")
    (tree / "proc" / "sys" / "kernel" / "random" / "boot_id").write_text("6b4b7a1e-0000-4000-8000-000000000001\n")
    (tree / "etc").mkdir()
    shutil.copy(HAND / "os-release", tree / "etc" / "os-release")
    (tree / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (tree / "sys" / "fs" / "cgroup").mkdir(parents=True)
    shutil.copy(HAND / "cgroup.controllers", tree / "sys" / "fs" / "cgroup" / "cgroup.controllers")
    for name, mtu in (("eth0", "9000"), ("lo", "65536")):
        (tree / "sys" / "class" / "net" / name).mkdir(parents=True)
        (tree / "sys" / "class" / "net" / name / "mtu").write_text(mtu + "\n")
    (tree / "sys" / "class" / "net" / "bonding_masters").write_text("\n")  # no mtu: skipped, not an error
    return tree


def run_script(*args: str, python: str = sys.executable, flags: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run([python, *flags, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, timeout=60)


# -- this machine's own /proc ------------------------------------------------------------------


def test_collect_live_host_matches_the_kernel():
    doc = procfs.collect("/", gather_cpus=True)
    assert procfs.check_document(doc) == []
    assert doc["errors"] == {}
    assert all(count == 0 for count in doc["skipped"].values()), doc["skipped"]  # this kernel's formats
    assert doc["collection_method"] == "local"
    assert doc["meminfo"]["MemTotal"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    summary = doc["cpuinfo"]["summary"]
    assert summary["logical_cpus"] == os.sysconf("SC_NPROCESSORS_ONLN")
    assert len(doc["cpuinfo"]["cpus"]) == summary["logical_cpus"]
    assert 1 <= summary["physical_cores"] <= summary["logical_cpus"]
    assert summary["architecture"] == os.uname().machine
    assert doc["hostname"] == socket.gethostname()
    assert doc["kernel"]["release"] == os.uname().release
    assert doc["machine_id"] == Path("/etc/machine-id").read_text().strip()
    assert len(doc["stat_cpu"]) == summary["logical_cpus"] + 1
    assert "lo" in doc["net_dev"]
    assert doc["net_mtu"]["lo"] > 0
    assert set(os.listdir("/sys/block")) <= set(doc["diskstats"])
    assert any(m["mountpoint"] == "/" for m in doc["mountinfo"])
    assert doc["loadavg"]["total"] >= doc["loadavg"]["running"] >= 1
    json.dumps(doc)


def test_parser_guess_of_architecture_on_this_host_agrees_with_uname():
    data, skipped = procfs.parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    assert skipped == 0
    assert data["summary"]["architecture"] == os.uname().machine


def test_live_paths_statvfs_and_mount(tmp_path):
    missing = tmp_path / "not" / "yet"
    doc = procfs.collect("/", paths=[str(tmp_path), str(missing)], path_timeout=10, gather_cpus=False)
    assert doc["cpuinfo"]["cpus"] == []
    here = doc["paths"][str(tmp_path)]
    st = os.statvfs(tmp_path)
    assert here["error"] is None
    assert here["exists"] is True
    assert here["total_bytes"] == st.f_blocks * st.f_frsize
    assert here["f_frsize"] == st.f_frsize
    mountpoint = os.path.realpath(tmp_path)
    while not os.path.ismount(mountpoint):
        mountpoint = os.path.dirname(mountpoint)
    assert here["mountpoint"] == mountpoint
    later = doc["paths"][str(missing)]
    assert (later["exists"], later["probed"], later["error"]) == (False, os.path.realpath(tmp_path), None)
    assert later["total_bytes"] == here["total_bytes"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_live_mount_with_a_space_is_decoded(tmp_path):
    point = tmp_path / "data set"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "mlps test", str(point)], check=True)
    try:
        doc = procfs.collect("/", paths=[str(point / "train")], gather_cpus=False)
    finally:
        subprocess.run(["umount", str(point)], check=True)
    assert any(m["mountpoint"] == str(point) and m["device"] == "mlps test" for m in doc["mounts"])
    assert any(m["mountpoint"] == str(point) and m["source"] == "mlps test" for m in doc["mountinfo"])
    entry = doc["paths"][str(point / "train")]
    assert (entry["mountpoint"], entry["fstype"], entry["total_bytes"]) == (str(point), "tmpfs", 1024 * 1024)


# -- statvfs timeout (a hang simulated by an injected statvfs) -----------------------------------


def test_hung_statvfs_times_out_and_the_other_path_is_measured(tmp_path):
    release = threading.Event()

    hung = tmp_path / "hung"

    def statvfs(path):
        if path == str(hung):
            release.wait(30)  # a hard NFS mount that stopped answering
        return os.statvfs(tmp_path)

    hung.mkdir()
    mounts = [{"device": "nfs01:/export", "mountpoint": str(hung), "fstype": "nfs4", "options": ["hard"]}]
    start = time.monotonic()
    try:
        result = procfs.probe_paths([str(hung), str(tmp_path)], mounts, timeout=0.3, statvfs=statvfs)
    finally:
        release.set()
    assert time.monotonic() - start < 10  # returned at the deadline, not when the mount came back
    assert result[str(hung)]["error"] == "statvfs timed out after 0.3s"
    assert result[str(hung)]["fstype"] == "nfs4"  # still named: found from the path alone
    assert result[str(hung)]["total_bytes"] is None
    assert result[str(tmp_path)]["error"] is None
    assert result[str(tmp_path)]["total_bytes"] > 0


def test_collect_with_hung_path_still_returns_every_source(tmp_path):
    release = threading.Event()
    try:
        doc = procfs.collect("/", paths=[str(tmp_path)], path_timeout=0.2, gather_cpus=False,
                             statvfs=lambda _path: release.wait(30))
    finally:
        release.set()
    assert doc["paths"][str(tmp_path)]["error"] == "statvfs timed out after 0.2s"
    assert doc["errors"] == {}
    assert doc["meminfo"]["MemTotal"] > 0


def test_statvfs_error_and_relative_path_are_per_path_errors(tmp_path):
    def refuse(_path):
        raise PermissionError(13, "Permission denied")

    result = procfs.probe_paths([str(tmp_path), "data/relative"], [], timeout=5, statvfs=refuse)
    assert result[str(tmp_path)]["error"] == "PermissionError: [Errno 13] Permission denied"
    assert result["data/relative"]["error"].startswith("path 'data/relative' is not absolute")


# -- the standalone script on a copied tree --------------------------------------------------


def test_script_reads_a_copied_tree(tmp_path):
    tree = build_tree(tmp_path)
    proc = run_script("--root", str(tree), "--path", "/mnt/data set/unet3d", "--compact")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert procfs.check_document(doc) == []
    assert doc["errors"] == {}
    assert doc["collection_method"] == "snapshot"
    assert doc["root"] == str(tree)
    assert (doc["hostname"], doc["machine_id"]) == ("client07", "0123456789abcdef0123456789abcdef")
    assert doc["meminfo"]["MemTotal"] == 15666184 * 1024
    assert doc["meminfo"]["HugePages_Total"] == 0
    assert doc["cpuinfo"]["summary"] == {
        "model": "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "architecture": "x86_64",
        "sockets": 1, "physical_cores": 4, "logical_cpus": 8, "topology_source": "cpuinfo",
    }
    assert len(doc["cpuinfo"]["cpus"]) == 8
    assert doc["kernel"]["release"] == "6.1.0-18-amd64"
    assert doc["os_release"]["ID"] == "rocky"
    assert (doc["cgroups"]["version"], doc["cgroups"]["mode"]) == (2, "unified")
    assert doc["net_mtu"] == {"eth0": 9000, "lo": 65536}
    assert doc["skipped"]["net_mtu"] == 1
    assert doc["skipped"]["os_release"] == 3
    assert doc["loadavg"]["total"] == 497
    assert doc["diskstats"]["sdc"]["flushes_completed"] == 127
    path = doc["paths"]["/mnt/data set/unet3d"]
    assert (path["mountpoint"], path["fstype"], path["device"]) == (
        "/mnt/data set", "nfs4", "storage01:/export/mlperf data")
    assert path["error"] == "statvfs skipped: root is a snapshot, not the live filesystem"


def test_script_missing_and_unreadable_sources_are_errors_and_the_rest_is_collected(tmp_path):
    tree = build_tree(tmp_path)
    (tree / "proc" / "diskstats").unlink()
    (tree / "proc" / "net" / "dev").unlink()
    (tree / "proc" / "net" / "dev").mkdir()  # unreadable as a file, even for root
    (tree / "etc" / "machine-id").unlink()
    proc = run_script("--root", str(tree), "--method", "mpi", "--no-cpus")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert procfs.check_document(doc) == []
    assert doc["errors"]["diskstats"].startswith("FileNotFoundError:")
    assert doc["errors"]["net_dev"].startswith("IsADirectoryError:")
    assert doc["errors"]["machine_id"].startswith("FileNotFoundError:")
    assert set(doc["errors"]) == {"diskstats", "net_dev", "machine_id"}
    assert (doc["diskstats"], doc["net_dev"], doc["machine_id"]) == ({}, {}, None)
    assert doc["collection_method"] == "mpi"
    assert doc["meminfo"]["MemTotal"] == 15666184 * 1024
    assert doc["cpuinfo"]["cpus"] == []
    assert doc["cpuinfo"]["summary"]["logical_cpus"] == 8


def test_script_runs_with_the_stdlib_only(tmp_path):
    # -I -S: no site-packages, so no ansible and nothing of the project's venv: what an MPI host has.
    proc = run_script("--root", str(build_tree(tmp_path)), "--compact", flags=("-I", "-S"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["meminfo"]["MemTotal"] == 15666184 * 1024


def test_power_tree_takes_cores_from_sysfs_topology(tmp_path):
    tree = tmp_path / "power"
    (tree / "proc").mkdir(parents=True)
    shutil.copy(HAND / "cpuinfo" / "ppc64le-power9", tree / "proc" / "cpuinfo")
    for cpu in range(8):
        topo = tree / "sys" / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "core_cpus_list").write_text("0-3\n" if cpu < 4 else "4-7\n")
        (topo / "package_cpus_list").write_text("0-7\n")
    doc = procfs.collect(str(tree))
    assert doc["cpuinfo"]["summary"]["physical_cores"] == 2
    assert doc["cpuinfo"]["summary"]["sockets"] == 1
    assert doc["cpuinfo"]["summary"]["topology_source"] == "sysfs"
    assert doc["errors"]["meminfo"].startswith("FileNotFoundError:")


@pytest.mark.parametrize(("args", "expected"), [
    (["--root", "/nonexistent/mlps"], "mlps_procfs: --root /nonexistent/mlps: not a directory;"),
    (["--path-timeout", "0"], "mlps_procfs: --path-timeout 0: expected a number of seconds above 0"),
    (["--path", "data"], "mlps_procfs: --path data: not absolute;"),
])
def test_script_bad_input_is_one_line_and_exit_2(args, expected):
    proc = run_script(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(expected)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_script_keeps_to_python_3_8_syntax():
    # The MPI collection runs this file with whatever python3 the hosts have.
    ast.parse(SCRIPT.read_text(), feature_version=(3, 8))


# -- the sampler's counters and the document checker --------------------------------------------


def test_read_counters_live_and_on_a_tree(tmp_path):
    live = procfs.read_counters("/")
    assert live["errors"] == {}
    assert set(live["meminfo"]) <= set(procfs.SAMPLE_MEMINFO_KEYS)
    assert live["meminfo"]["MemTotal"] > 0
    assert "cpu" in live["stat_cpu"]
    assert live["stat"]["ctxt"] > 0
    later = procfs.read_counters("/")
    assert later["monotonic"] > live["monotonic"]
    assert later["stat"]["ctxt"] >= live["stat"]["ctxt"]
    snap = procfs.read_counters(str(build_tree(tmp_path)))
    assert snap["errors"] == {}
    assert snap["diskstats"]["sda"]["reads_completed"] == 25354637
    assert snap["vmstat"]["pgpgin"] == 1401352
    assert snap["net_dev"]["eth0"]["rx_bytes"] == 874354587
    assert snap["meminfo"] == {
        "MemTotal": 15666184 * 1024, "MemFree": 440324 * 1024, "Buffers": 1020128 * 1024,
        "Cached": 12007640 * 1024, "Dirty": 768 * 1024, "Writeback": 0, "Active(file)": 6494020 * 1024,
        "Inactive(file)": 6532440 * 1024, "Shmem": 1308 * 1024, "SwapTotal": 0, "SwapFree": 0,
    }


def test_check_document_names_what_is_wrong():
    doc = procfs.collect("/", gather_cpus=False)
    assert procfs.check_document(doc) == []
    broken = dict(doc, schema="other/1", collection_method="carrier-pigeon", meminfo=[])
    problems = procfs.check_document(broken)
    assert any(p.startswith("schema is 'other/1'") for p in problems)
    assert any(p.startswith("collection_method 'carrier-pigeon'") for p in problems)
    assert "meminfo: expected dict, got list" in problems
    assert procfs.check_document([]) == ["expected a JSON object, got list"]
    bad_path = dict(doc, paths={"/x": {"path": "/x"}})
    assert procfs.check_document(bad_path)[0].startswith("paths[/x]: missing exists")
