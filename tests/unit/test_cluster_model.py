"""Cluster model: per-host totals, consistency and drift findings, cluster_info.json round trip.

The base facts are real: this machine's, produced by module_utils/mlps_procfs.py. Other "hosts"
are copies of it with the fields a test is about changed.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlps import cli
from mlps.cluster import (
    SCHEMA,
    ClusterInfo,
    build_cluster,
    drift_findings,
    finding_hosts,
    format_host_table,
    load_facts_files,
    read_cluster_info,
    write_cluster_info,
)
from mlps.errors import UserError
from mlps.rulebook.findings import Outcome

ROOT = Path(__file__).resolve().parents[2]
GIB = 2**30


@pytest.fixture(scope="module")
def real_facts(tmp_path_factory) -> dict:
    data_dir = tmp_path_factory.mktemp("data")
    out = subprocess.run([sys.executable, str(ROOT / "module_utils" / "mlps_procfs.py"), "--path", str(data_dir)],
                         capture_output=True, text=True, check=True, timeout=60)
    facts = json.loads(out.stdout)
    facts["_data_dir"] = str(data_dir)
    return facts


def host(facts: dict, name: str, **changes) -> dict:
    """A copy of the real facts as another host (own hostname and machine_id)."""
    doc = copy.deepcopy(facts)
    doc.pop("_data_dir", None)
    doc["hostname"] = name
    doc["machine_id"] = f"id-{name}"
    for dotted, value in changes.items():
        target = doc
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return doc


def by_check(findings, check):
    return [f for f in findings if f.extra.get("check") == check]


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


# --- totals and de-duplication ---------------------------------------------------------------

def test_real_host_totals_match_proc(real_facts):
    cluster = build_cluster([real_facts])
    assert cluster.num_hosts == 1
    assert cluster.total_memory_bytes == meminfo_total()
    assert cluster.memory_complete
    assert cluster.total_physical_cores == real_facts["cpuinfo"]["summary"]["physical_cores"] >= 1
    assert cluster.hosts[0].kernel_release == Path("/proc/sys/kernel/osrelease").read_text().strip()
    assert cluster.findings == []


def test_ranks_on_one_host_count_once(real_facts):
    ranks = [copy.deepcopy(real_facts) for _ in range(4)]
    cluster = build_cluster(ranks)
    assert cluster.num_hosts == 1
    assert cluster.hosts[0].ranks == 4
    assert cluster.total_memory_bytes == real_facts["meminfo"]["MemTotal"]
    assert cluster.totals()["ranks"] == 4


def test_totals_are_per_host_not_per_rank(real_facts):
    docs = [host(real_facts, "a", meminfo__MemTotal=100 * GIB), host(real_facts, "b", meminfo__MemTotal=120 * GIB)]
    docs += [copy.deepcopy(docs[1]) for _ in range(3)]          # three more ranks on b
    cluster = build_cluster(docs)
    assert [h.hostname for h in cluster.hosts] == ["a", "b"]
    assert [h.ranks for h in cluster.hosts] == [1, 4]
    assert cluster.total_memory_bytes == 220 * GIB
    assert (cluster.min_memory_bytes, cluster.max_memory_bytes) == (100 * GIB, 120 * GIB)
    cores = real_facts["cpuinfo"]["summary"]["physical_cores"]
    assert cluster.total_physical_cores == 2 * cores
    assert (cluster.min_physical_cores, cluster.max_physical_cores) == (cores, cores)


def test_shared_machine_id_counts_once_and_says_so(real_facts):
    a = host(real_facts, "ns1")
    b = host(real_facts, "ns2", machine_id="id-ns1")             # namespaces of one machine
    cluster = build_cluster([a, b])
    assert cluster.num_hosts == 1
    assert cluster.hosts[0].aliases == ["ns2"]
    (finding,) = by_check(cluster.findings, "shared_machine_id")
    assert finding.rule_id == "SYS-MEM-MEASURED" and finding.outcome == Outcome.WARNING
    assert finding_hosts(finding) == ["ns1", "ns2"]
    assert cluster.host("ns2") is cluster.hosts[0]


def test_without_machine_id_hosts_are_matched_by_hostname(real_facts):
    a = host(real_facts, "a", machine_id=None)
    cluster = build_cluster([a, copy.deepcopy(a), host(real_facts, "b", machine_id=None)])
    assert [(h.hostname, h.ranks) for h in cluster.hosts] == [("a", 2), ("b", 1)]


def test_unknown_memory_is_reported_and_totals_are_incomplete(real_facts):
    broken = host(real_facts, "b", meminfo={})
    broken["errors"] = {"meminfo": "PermissionError: [Errno 13] Permission denied"}
    cluster = build_cluster([host(real_facts, "a"), broken])
    assert not cluster.memory_complete
    (finding,) = by_check(cluster.findings, "memory_unknown")
    assert finding_hosts(finding) == ["b"] and finding.rule_id == "SYS-MEM-MEASURED"


def test_bad_facts_are_user_errors(real_facts):
    with pytest.raises(UserError, match="no host facts given"):
        build_cluster([])
    with pytest.raises(UserError, match=r"facts\[0\]: schema is 'other/1', expected 'mlps-host-facts/1'"):
        build_cluster([{"schema": "other/1", "hostname": "a"}])
    with pytest.raises(UserError, match="neither a hostname nor a machine_id"):
        build_cluster([{"schema": "mlps-host-facts/1"}])


# --- consistency across hosts ----------------------------------------------------------------

def test_memory_spread_over_1_5_names_the_outlier(real_facts):
    docs = [host(real_facts, n, meminfo__MemTotal=m * GIB) for n, m in (("a", 256), ("b", 256), ("c", 512))]
    (finding,) = by_check(build_cluster(docs).findings, "memory")
    assert finding.rule_id == "SYS-NODE-CONSISTENCY" and finding.outcome == Outcome.WARNING
    assert finding_hosts(finding) == ["c"]
    assert finding.actual == 2.0


def test_memory_spread_of_exactly_1_5_is_fine(real_facts):
    docs = [host(real_facts, "a", meminfo__MemTotal=200 * GIB), host(real_facts, "b", meminfo__MemTotal=300 * GIB)]
    assert by_check(build_cluster(docs).findings, "memory") == []


def test_two_hosts_far_apart_name_both(real_facts):
    docs = [host(real_facts, "a", meminfo__MemTotal=100 * GIB), host(real_facts, "b", meminfo__MemTotal=200 * GIB)]
    (finding,) = by_check(build_cluster(docs).findings, "memory")
    assert sorted(finding_hosts(finding)) == ["a", "b"]


def test_core_counts(real_facts):
    small = [host(real_facts, n, cpuinfo__summary__physical_cores=c) for n, c in (("a", 32), ("b", 32), ("c", 30))]
    (info,) = by_check(build_cluster(small).findings, "cores")
    assert info.outcome == Outcome.INFO and finding_hosts(info) == ["c"]
    big = [host(real_facts, n, cpuinfo__summary__physical_cores=c) for n, c in (("a", 32), ("b", 32), ("c", 64))]
    (warn,) = by_check(build_cluster(big).findings, "cores")
    assert warn.outcome == Outcome.WARNING and finding_hosts(warn) == ["c"]


@pytest.mark.parametrize(("check", "field"), [
    ("cpu_model", "cpuinfo__summary__model"),
    ("kernel", "kernel__release"),
])
def test_differing_software_and_cpu_name_the_minority(real_facts, check, field):
    docs = [host(real_facts, "a"), host(real_facts, "b"), host(real_facts, "c", **{field: "something else"})]
    (finding,) = by_check(build_cluster(docs).findings, check)
    assert finding_hosts(finding) == ["c"]
    assert finding.actual == {"c": "something else"}
    assert finding.outcome == Outcome.WARNING


def test_differing_os(real_facts):
    other = host(real_facts, "b", os_release={"ID": "rocky", "VERSION_ID": "9.4"})
    (finding,) = by_check(build_cluster([host(real_facts, "a"), host(real_facts, "c"), other]).findings, "os")
    assert finding.actual == {"b": "rocky 9.4"}


def test_data_mount_type_and_options_from_probed_paths(real_facts):
    data = real_facts["_data_dir"]
    docs = [host(real_facts, "a"), host(real_facts, "b"), host(real_facts, "c")]
    assert docs[0]["paths"][data]["fstype"]                       # the real probe found the mount
    docs[2]["paths"][data].update(fstype="nfs4", mountpoint="/mnt", mount_options=["rw", "vers=4.2"])
    cluster = build_cluster(docs, data_path=data)
    (fstype,) = by_check(cluster.findings, "data_mount_fstype")
    assert finding_hosts(fstype) == ["c"] and fstype.actual == {"c": "nfs4"}
    (options,) = by_check(cluster.findings, "data_mount_options")
    assert finding_hosts(options) == ["c"]


def test_data_mount_falls_back_to_the_mount_table(real_facts):
    docs = [host(real_facts, n) for n in "abc"]
    nfs = {"device": "srv:/x", "mountpoint": "/mnt/lab", "fstype": "nfs", "options": ["rw"]}
    for doc in docs:
        doc["paths"] = {}                                           # the data path was not probed
    for doc in docs[:2]:
        doc["mounts"] = [*doc["mounts"], nfs]
    cluster = build_cluster(docs, data_path="/mnt/lab/data")
    assert cluster.hosts[0].path_mount("/mnt/lab/data") == {"mountpoint": "/mnt/lab", "fstype": "nfs",
                                                            "device": "srv:/x", "options": ["rw"]}
    root_fs = cluster.hosts[2].path_mount("/mnt/lab/data")["fstype"]
    (finding,) = by_check(cluster.findings, "data_mount_fstype")
    assert finding.actual == {"c": root_fs} and finding.expected == "nfs"


def test_mtu_compared_on_common_interfaces(real_facts):
    docs = [host(real_facts, n, net_mtu={"lo": 65536, "eth0": 9000, f"veth-{n}": 1500}) for n in "abc"]
    docs[1]["net_mtu"]["eth0"] = 1500
    docs[2]["net_mtu"]["lo"] = 1500                                 # lo never counts
    findings = by_check(build_cluster(docs).findings, "mtu")
    assert len(findings) == 1
    assert finding_hosts(findings[0]) == ["b"] and findings[0].expected == 9000


def test_mtu_of_a_named_interface_missing_on_a_host(real_facts):
    docs = [host(real_facts, "a", net_mtu={"ib0": 4092}), host(real_facts, "b", net_mtu={"eth0": 1500})]
    (finding,) = by_check(build_cluster(docs, interface="ib0").findings, "mtu")
    assert finding_hosts(finding) == ["b"] and "absent" in finding.message


def test_identical_hosts_have_no_findings(real_facts):
    data = real_facts["_data_dir"]
    assert build_cluster([host(real_facts, n) for n in "abc"], data_path=data).findings == []


# --- drift -----------------------------------------------------------------------------------

def snapshot(real_facts, **per_host_changes):
    docs = [host(real_facts, n, **per_host_changes.get(n, {})) for n in "ab"]
    return build_cluster(docs, data_path=real_facts["_data_dir"])


def test_moving_counters_are_not_drift(real_facts):
    start = snapshot(real_facts)
    end = snapshot(real_facts, a={"meminfo__MemFree": 1, "meminfo__Cached": 12345, "uptime__uptime_seconds": 9e6,
                                  "loadavg__load1": 42.0, "collected_at": "2099-01-01T00:00:00Z"})
    for doc in end.hosts:
        doc.facts["diskstats"] = {"vda": {"reads_completed": 10**9}}
        doc.facts["net_dev"] = {"eth0": {"rx_bytes": 10**12}}
    assert drift_findings(start, end) == []


@pytest.mark.parametrize(("change", "check"), [
    ({"meminfo__MemTotal": 1 * GIB}, "memory_total_bytes"),
    ({"cpuinfo__summary__physical_cores": 999}, "physical_cores"),
    ({"cpuinfo__summary__model": "Other CPU"}, "cpu_model"),
    ({"kernel__release": "9.9.9"}, "kernel_release"),
    ({"os_release": {"PRETTY_NAME": "Other OS"}}, "os"),
])
def test_hardware_and_os_changes_are_invalid_drift(real_facts, change, check):
    findings = drift_findings(snapshot(real_facts), snapshot(real_facts, b=change))
    assert [(f.extra["check"], finding_hosts(f), f.outcome) for f in findings] == [(check, ["b"], Outcome.INVALID)]
    assert findings[0].rule_id == "SYS-DRIFT"


def test_data_mount_and_mtu_changes_are_drift_warnings(real_facts):
    mtu = {"net_mtu": {"lo": 65536, "eth0": 1500}}
    start = snapshot(real_facts, a=mtu, b=mtu)
    end = snapshot(real_facts, a=mtu, b={"net_mtu": {"lo": 1500, "eth0": 9000}})
    end.hosts[0].facts["paths"][real_facts["_data_dir"]]["mount_options"] = ["ro"]
    findings = drift_findings(start, end)
    assert sorted((f.extra["check"], tuple(finding_hosts(f)), f.outcome) for f in findings) == [
        ("mtu", ("b",), Outcome.WARNING), ("path_mount", ("a",), Outcome.WARNING)]
    mtu_finding = next(f for f in findings if f.extra["check"] == "mtu")
    assert (mtu_finding.expected, mtu_finding.actual) == (1500, 9000)


def test_a_host_missing_from_one_snapshot_is_a_finding(real_facts):
    start = snapshot(real_facts)
    end = build_cluster([host(real_facts, "a")], data_path=real_facts["_data_dir"])
    (finding,) = drift_findings(start, end)
    assert finding_hosts(finding) == ["b"] and finding.extra["check"] == "host_set"
    (reverse,) = drift_findings(end, start)
    assert "in the end snapshot but not in the start" in reverse.message


# --- cluster_info.json -----------------------------------------------------------------------

def test_cluster_info_round_trips_losslessly(real_facts, tmp_path):
    docs = [host(real_facts, "a", meminfo__MemTotal=100 * GIB), host(real_facts, "b", meminfo__MemTotal=300 * GIB),
            host(real_facts, "c", kernel__release="x")]
    docs.append(copy.deepcopy(docs[0]))
    cluster = build_cluster(docs, data_path=real_facts["_data_dir"], results_path="/results", interface="eth0")
    assert cluster.findings                                        # findings survive the trip too
    path = write_cluster_info(tmp_path / "out" / "cluster_info.json", cluster)
    back = read_cluster_info(path)
    assert back == cluster
    assert back.to_dict() == cluster.to_dict()
    assert json.loads(path.read_text())["schema"] == SCHEMA
    assert json.loads(path.read_text())["totals"]["total_memory_bytes"] == cluster.total_memory_bytes
    assert sorted(p.name for p in path.parent.iterdir()) == ["cluster_info.json"]     # no temp file left


def test_write_replaces_an_existing_file(real_facts, tmp_path):
    path = tmp_path / "cluster_info.json"
    write_cluster_info(path, build_cluster([host(real_facts, "a")]))
    write_cluster_info(path, build_cluster([host(real_facts, "a"), host(real_facts, "b")]))
    assert read_cluster_info(path).num_hosts == 2


def test_read_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such cluster info file"):
        read_cluster_info(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot read cluster info"):
        read_cluster_info(bad)
    bad.write_text(json.dumps({"schema": "mlps-host-facts/1"}))
    with pytest.raises(UserError, match="expected 'mlps-cluster-info/1'"):
        read_cluster_info(bad)


def test_load_facts_files_accepts_lists(real_facts, tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(host(real_facts, "a")))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([host(real_facts, "b"), host(real_facts, "c")]))
    assert [d["hostname"] for d in load_facts_files([one, many])] == ["a", "b", "c"]
    many.write_text(json.dumps([host(real_facts, "b"), {"schema": "x"}]))
    with pytest.raises(UserError, match=r"many.json\[1\]: schema is 'x'"):
        load_facts_files([many])


def test_host_table_lists_every_host(real_facts):
    cluster = build_cluster([host(real_facts, "alpha", meminfo__MemTotal=64 * GIB),
                             host(real_facts, "beta", meminfo__MemTotal=32 * GIB)], data_path=real_facts["_data_dir"])
    lines = format_host_table(cluster).splitlines()
    assert lines[0].split()[:3] == ["host", "memory", "GiB"]
    assert lines[1].split()[:2] == ["alpha", "64.0"]
    assert lines[2].split()[:2] == ["beta", "32.0"]
    fstype = cluster.hosts[0].path_mount(real_facts["_data_dir"])["fstype"]
    assert fstype in lines[1]
    assert lines[3].startswith("total (2 hosts)") and "96.0" in lines[3]


# --- mlps cluster-info -------------------------------------------------------------------------

def test_cli_builds_writes_and_prints(real_facts, tmp_path, capsys):
    files = []
    for name in ("h1", "h2"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(host(real_facts, name)))
        files.append(str(path))
    out_file = tmp_path / "cluster_info.json"
    code = cli.main(["cluster-info", *files, "--out", str(out_file), "--data-path", real_facts["_data_dir"]])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "h1" in out and "h2" in out and "total (2 hosts)" in out
    assert read_cluster_info(out_file).num_hosts == 2
    # drift against the file just written: none
    code = cli.main(["cluster-info", *files, "--start", str(out_file), "--json",
                     "--data-path", real_facts["_data_dir"]])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["drift"] == [] and data["totals"]["num_hosts"] == 2
    assert ClusterInfo.from_dict(data).num_hosts == 2


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    code = cli.main(["cluster-info", str(tmp_path / "nope.json")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no such facts file" in err
