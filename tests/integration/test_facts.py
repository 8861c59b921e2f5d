"""playbooks/facts.yml for real: on localhost and on the 3-host namespace cluster, over SSH and over
MPI, with start/end snapshots and drift, an unreachable host, an unreadable /proc file and a failing
MPI launch."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest

from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import LOCAL_INVENTORY, cluster_vars

pytestmark = [pytest.mark.integration]
cluster = pytest.mark.cluster

REPORT_TASK = "Show every client"
MPI_TASK = "Read the gathered facts"
# The /proc and /etc files a copied snapshot needs (diskstats is replaced by a directory).
PROC_FILES = ("meminfo", "cpuinfo", "version", "loadavg", "uptime", "stat", "vmstat", "net/dev", "mounts",
              "cgroups", "self/mountinfo")


def facts(inventory, results: Path, *, args: list[str] | None = None, **extra) -> PlaybookRun:
    extra_vars = {"mlps_results_dir": str(results), "mlps_data_dir": str(results.parent / "data"), **extra}
    return run_playbook("facts.yml", inventory, extra_vars, args=args, timeout=600)


def cluster_info(results: Path, name: str = "cluster_info.json") -> dict:
    return json.loads((results / name).read_text())


def by_host(info: dict) -> dict[str, dict]:
    return {host["hostname"]: host["facts"] for host in info["hosts"]}


def report(run: PlaybookRun) -> list[str]:
    (result,) = run.results(REPORT_TASK).values()
    return result["msg"]


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def inventory_with(cluster3, tmp_path: Path, first_line: str | None = None, host_vars: dict | None = None) -> Path:
    """A copy of the cluster inventory with an extra first client line and/or host variables."""
    text = cluster3.inventory.read_text()
    if first_line:
        text = text.replace("[clients]\n", f"[clients]\n{first_line}\n", 1)
    for host, variables in (host_vars or {}).items():
        line = next(line for line in text.splitlines() if line.startswith(f"{host} "))
        text = text.replace(line, line + "".join(f" {k}={v}" for k, v in variables.items()), 1)
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    return path


# -- localhost -----------------------------------------------------------------------------------


def test_ssh_method_on_localhost_writes_cluster_info_and_prints_the_table(tmp_path):
    results = tmp_path / "results"
    run = facts(LOCAL_INVENTORY, results)
    assert run.rc == 0, run.messages()
    info = cluster_info(results)
    assert info["schema"] == "mlps-cluster-info/1"
    assert info["totals"]["num_hosts"] == 1
    assert info["totals"]["total_memory_bytes"] == machine_memory()
    (doc,) = by_host(info).values()
    assert doc["hostname"] == os.uname().nodename
    assert doc["machine_id"] == Path("/etc/machine-id").read_text().strip()
    assert doc["collection_method"] == "ssh"
    assert doc["errors"] == {}
    assert set(doc["paths"]) == {str(results), str(tmp_path / "data")}
    lines = report(run)
    assert lines[0].split() == ["host", "memory", "GiB", "cores", "cpus", "kernel", "data", "filesystem"]
    assert lines[1].split()[0] == os.uname().nodename
    assert lines[1].split()[4] == os.uname().release
    assert lines[-1] == f"wrote {results / 'cluster_info.json'}"


def test_check_mode_gathers_and_reports_but_writes_nothing(tmp_path):
    results = tmp_path / "results"
    run = facts(LOCAL_INVENTORY, results, args=["--check"])
    assert run.rc == 0, run.messages()
    lines = report(run)
    assert lines[1].split()[0] == os.uname().nodename
    assert lines[-1] == f"would write {results / 'cluster_info.json'}"
    assert not results.exists()


def test_mpi_method_on_localhost_runs_the_collector_under_mpirun(tmp_path, client_venv):
    results = tmp_path / "results"
    run = facts(LOCAL_INVENTORY, results, mlps_facts_method="mpi", mlps_venv=str(client_venv),
                mlps_facts_snapshot="start")
    assert run.rc == 0, run.messages()
    (doc,) = by_host(cluster_info(results, "cluster_info_start.json")).values()
    assert doc["collection_method"] == "mpi"
    assert doc["meminfo"]["MemTotal"] == machine_memory()
    launch = run.results("Run the collector on one rank per client")["localhost"]
    assert launch["cmd"][0] == str(client_venv / "bin" / "mpirun")
    # every rank runs the bootstrap's text with the collector's two sources as its next arguments
    # (shown by their size in the result)
    boot = launch["cmd"].index("-c")
    assert launch["cmd"][boot - 1] == str(client_venv / "bin" / "python")
    assert "mlps_mpi_collect" in launch["cmd"][boot + 1] and "bcast" not in launch["cmd"][boot + 1]
    sizes = [re.fullmatch(r"<(\d+)-byte argument>", a) for a in launch["cmd"][boot + 2:boot + 4]]
    assert all(sizes) and int(sizes[0].group(1)) > 20_000, launch["cmd"]
    assert launch["cmd"][boot + 4:boot + 6] == ["--path-timeout", "5"]
    # The scratch file the ranks printed into is gone once read.
    scratch = run.results("Make a file on the launcher")["localhost"]["path"]
    assert not Path(scratch).exists()


# -- the 3-host cluster --------------------------------------------------------------------------


@cluster
def test_ssh_method_on_three_hosts_lists_three_distinct_hosts(cluster3, tmp_path):
    results = tmp_path / "results"
    run = facts(cluster3.inventory, results)
    assert run.rc == 0, run.messages()
    info = cluster_info(results)
    hosts = by_host(info)
    assert sorted(hosts) == ["h1", "h2", "h3"]
    # Every namespace has its own /etc/machine-id, so dedup by machine-id keeps three hosts.
    assert len({doc["machine_id"] for doc in hosts.values()}) == 3
    assert {doc["collection_method"] for doc in hosts.values()} == {"ssh"}
    assert info["totals"]["num_hosts"] == 3
    assert info["totals"]["total_memory_bytes"] == 3 * machine_memory()
    assert info["findings"] == []  # identical hosts: nothing to report
    rows = [line.split()[0] for line in report(run)[1:4]]
    assert rows == ["h1", "h2", "h3"]
    assert report(run)[4].startswith("total (3 hosts)")


@cluster
def test_mpi_method_on_three_hosts_gathers_every_host_through_mpirun(cluster3, cluster_venv, tmp_path):
    results = tmp_path / "results"
    run = facts(cluster3.inventory, results, **cluster_vars(mlps_facts_method="mpi"))
    assert run.rc == 0, run.messages()
    hosts = by_host(cluster_info(results))
    assert sorted(hosts) == ["h1", "h2", "h3"]
    assert len({doc["machine_id"] for doc in hosts.values()}) == 3
    assert {doc["collection_method"] for doc in hosts.values()} == {"mpi"}
    launch = run.results("Run the collector on one rank per client")["h1"]
    assert launch["cmd"][launch["cmd"].index("--host") + 1] == "h1:1,h2:1,h3:1"
    # the collector travels in the command (shown by size): no copy to any host, no file on the launcher
    python = launch["cmd"].index("-c")
    assert [re.fullmatch(r"<\d+-byte argument>", a) is not None for a in launch["cmd"][python + 2:python + 4]] == \
        [True, True], launch["cmd"]
    ran = {e["event_data"].get("task_action") for e in run.events if e.get("event") == "runner_on_ok"}
    assert "mlps_mpirun" in ran and not ran & {"copy", "ansible.builtin.copy"}, ran
    assert not run.results(MPI_TASK)["h1"].get("warnings")


@cluster
def test_start_and_end_snapshots_report_drift(cluster3, cluster_venv, tmp_path):
    results = tmp_path / "results"
    # A veth pair inside h2 whose MTU changes between the snapshots (the links the hosts talk over
    # are left alone; this kernel has no dummy interfaces).
    cluster3.ssh("h2", ["ip", "link", "add", "mlpsdrift0", "type", "veth", "peer", "name", "mlpsdrift1"])
    try:
        start = facts(cluster3.inventory, results, mlps_facts_snapshot="start")
        assert start.rc == 0, start.messages()
        assert not (results / "cluster_drift.json").exists()  # nothing to compare with yet
        cluster3.ssh("h2", ["ip", "link", "set", "mlpsdrift0", "mtu", "9000"])
        end = facts(cluster3.inventory, results, **cluster_vars(mlps_facts_snapshot="end", mlps_facts_method="mpi"))
        assert end.rc == 0, end.messages()
    finally:
        cluster3.ssh("h2", ["ip", "link", "del", "mlpsdrift0"], check=False)
    assert by_host(cluster_info(results, "cluster_info_start.json"))["h2"]["net_mtu"]["mlpsdrift0"] == 1500
    assert by_host(cluster_info(results, "cluster_info_end.json"))["h2"]["net_mtu"]["mlpsdrift0"] == 9000
    drift = json.loads((results / "cluster_drift.json").read_text())
    assert drift["schema"] == "mlps-cluster-drift/1"
    assert drift["start"] == str(results / "cluster_info_start.json")
    assert [(f["rule"], f["host"], f["expected"], f["actual"]) for f in drift["findings"]] == [
        ("SYS-DRIFT", "h2", 1500, 9000)]
    lines = report(end)
    assert any(line.startswith("WARNING SYS-DRIFT: MTU of mlpsdrift0 on h2 changed") for line in lines)
    assert f"drift since {results / 'cluster_info_start.json'}: 1 finding(s), the SYS-DRIFT lines above" in lines


@cluster
def test_unreachable_host_is_reported_while_the_others_are_collected(cluster3, tmp_path):
    results = tmp_path / "results"
    inventory = inventory_with(cluster3, tmp_path, first_line="h9 ansible_host=10.213.255.254")
    run = facts(inventory, results, args=["-T", "3"])
    assert run.rc != 0  # by default a client without facts fails the play, after everything is written
    assert sorted(by_host(cluster_info(results))) == ["h1", "h2", "h3"]
    problems = [line for line in report(run) if line.startswith("h9: ")]
    assert len(problems) == 1 and problems[0].startswith("h9: no facts: unreachable: ")
    (failure,) = [m for m in run.messages() if "No facts from" in m]
    assert "No facts from h9 " in failure and str(results / "cluster_info.json") in failure
    assert not run.stats.get("dark")  # ignored, so the other hosts went on

    accepted = facts(inventory, tmp_path / "partial", args=["-T", "3"], mlps_facts_require_all=False)
    assert accepted.rc == 0, accepted.messages()
    assert cluster_info(tmp_path / "partial")["totals"]["num_hosts"] == 3


def _proc_tree_with_unreadable_diskstats(base: Path, hostname: str) -> Path:
    """This host's /proc files copied under base, with proc/diskstats a directory: reading it
    fails even for root (unlike a chmod 000 file, which root reads anyway)."""
    tree = base / "snapshot"
    for name in PROC_FILES:
        target = tree / "proc" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Path("/proc", name).read_text())
    (tree / "proc" / "diskstats").mkdir()
    (tree / "proc" / "sys" / "kernel").mkdir(parents=True)
    (tree / "proc" / "sys" / "kernel" / "hostname").write_text(hostname + "\n")
    (tree / "etc").mkdir()
    (tree / "etc" / "os-release").write_text(Path("/etc/os-release").read_text())
    (tree / "etc" / "machine-id").write_text(uuid.uuid4().hex + "\n")
    return tree


@cluster
def test_unreadable_proc_file_is_an_error_entry_while_every_host_is_collected(cluster3, tmp_path):
    results = tmp_path / "results"
    tree = _proc_tree_with_unreadable_diskstats(tmp_path, "h2")
    inventory = inventory_with(cluster3, tmp_path, host_vars={"h2": {"mlps_facts_root": str(tree)}})
    run = facts(inventory, results)
    assert run.rc == 0, run.messages()
    hosts = by_host(cluster_info(results))
    assert sorted(hosts) == ["h1", "h2", "h3"]
    h2 = hosts["h2"]
    assert h2["collection_method"] == "snapshot" and h2["root"] == str(tree)
    assert h2["errors"]["diskstats"].startswith("IsADirectoryError")
    assert h2["diskstats"] == {}
    assert h2["meminfo"]["MemTotal"] == machine_memory()  # the readable sources are still there
    assert hosts["h1"]["errors"] == {} and hosts["h3"]["errors"] == {}
    assert any(line.startswith("h2: diskstats: IsADirectoryError") for line in report(run))


@cluster
@pytest.mark.parametrize("failure", ["bogus_mpirun", "host_mpirun_cannot_reach"])
def test_failed_mpi_collection_falls_back_to_the_launcher_with_a_warning(cluster3, cluster_venv, tmp_path, failure):
    results = tmp_path / "results"
    if failure == "bogus_mpirun":
        extra = {"mlps_facts_mpirun": str(tmp_path / "no-such-mpirun")}
        cause = "cannot start"
    else:  # h9 resolves nowhere, so mpirun's ssh to it fails
        extra = {"mlps_facts_mpi_hosts": ["h1", "h2", "h3", "h9"]}
        cause = "h9"
    run = facts(cluster3.inventory, results,
                **cluster_vars(mlps_facts_method="mpi", mlps_facts_require_all=False, **extra))
    assert run.rc == 0, run.messages()
    (doc,) = cluster_info(results)["hosts"]
    assert doc["hostname"] == "h1"
    assert doc["facts"]["collection_method"] == "local_fallback"
    reason = doc["facts"]["errors"]["mpi"]
    assert reason.startswith("MPI collection failed: ") and cause in reason
    result = run.results(MPI_TASK)["h1"]
    assert result["collection_method"] == "local_fallback"
    (warning,) = result["warnings"]
    assert warning.startswith("MPI collection failed (") and "collection_method local_fallback" in warning
    assert "no facts from h2, h3" in warning
    assert sorted(result["missing"]) == sorted(extra.get("mlps_facts_mpi_hosts", ["h1", "h2", "h3"])[1:])

    # Left at its default, the same failure fails the play once everything is written.
    strict = facts(cluster3.inventory, tmp_path / "strict", **cluster_vars(mlps_facts_method="mpi", **extra))
    assert strict.rc != 0
    assert any("No facts from h2, h3" in m for m in strict.messages())
    assert cluster_info(tmp_path / "strict")["totals"]["num_hosts"] == 1
