"""The /proc parsers on real files (prometheus/procfs fixtures), hand-written samples and odd lines."""

from pathlib import Path

import pytest

from mlps_module_utils import mlps_procfs as procfs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "procfs"
REAL = FIXTURES / "prometheus-procfs" / "proc"
HAND = FIXTURES / "handwritten"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# -- meminfo ---------------------------------------------------------------------------------


def test_meminfo_real_file_in_bytes_with_counts_kept():
    data, skipped = procfs.parse_meminfo(read(REAL / "meminfo"))
    assert skipped == 0
    assert data["MemTotal"] == 15666184 * 1024
    assert data["Active(anon)"] == 267256 * 1024
    assert data["VmallocTotal"] == 34359738367 * 1024
    assert data["Hugepagesize"] == 2048 * 1024
    assert data["HugePages_Total"] == 0  # a count: no unit, not multiplied
    assert len(data) == 45  # one entry per line of the file


def test_meminfo_counts_bad_lines_and_keeps_the_rest():
    text = "MemTotal: 100 kB\nHugePages_Total: 7\nbroken line\nMemFree: x kB\nOdd: 5 MB\nA: 1 kB extra\n\n"
    data, skipped = procfs.parse_meminfo(text)
    assert data == {"MemTotal": 102400, "HugePages_Total": 7}
    assert skipped == 4


# -- diskstats -------------------------------------------------------------------------------


def test_diskstats_real_file_mixing_14_18_and_20_fields():
    data, skipped = procfs.parse_diskstats(read(REAL / "diskstats"))
    assert skipped == 0
    assert len(data) == 52
    sda = data["sda"]  # 14 fields (pre-4.18): no discard or flush counters
    assert (sda["major"], sda["minor"]) == (8, 0)
    assert sda["reads_completed"] == 25354637
    assert sda["sectors_written"] == 505697032
    assert sda["weighted_io_time_ms"] == 82621804
    assert "discards_completed" not in sda
    sdb = data["sdb"]  # 18 fields: discards, no flushes
    assert sdb["discards_completed"] == 68851
    assert sdb["sectors_discarded"] == 1925173784
    assert sdb["discard_time_ms"] == 11130
    assert "flushes_completed" not in sdb
    sdc = data["sdc"]  # 20 fields: flushes too
    assert sdc["flushes_completed"] == 127
    assert sdc["flush_time_ms"] == 182


def test_diskstats_skips_wrong_field_counts_non_numbers_and_duplicates():
    text = ("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
            "8 1 sda1 1 2 3 4\n"           # old 7-field partition line
            "8 2 sdx 1 2 3\n"              # 6 fields
            "8 3 sdy a b c d e f g h i j k\n"
            "8 0 sda 9 9 9 9 9 9 9 9 9 9 9\n")
    data, skipped = procfs.parse_diskstats(text)
    assert set(data) == {"sda", "sda1"}
    assert data["sda"]["reads_completed"] == 1
    assert data["sda1"] == {"major": 8, "minor": 1, "reads_completed": 1, "sectors_read": 2,
                            "writes_completed": 3, "sectors_written": 4}
    assert skipped == 3


# -- net/dev, loadavg, stat, vmstat, uptime, version -----------------------------------------


def test_net_dev_real_file():
    data, skipped = procfs.parse_net_dev(read(REAL / "net" / "dev"))
    assert skipped == 0
    assert set(data) == {"vethf345468", "lo", "docker0", "eth0"}
    assert data["eth0"]["rx_bytes"] == 874354587
    assert data["eth0"]["rx_packets"] == 1036395
    assert data["eth0"]["tx_bytes"] == 563352563
    assert data["lo"]["tx_compressed"] == 0
    assert len(data["lo"]) == 16


def test_net_dev_old_kernel_glued_counter_and_bad_line():
    text = "Inter-|  Receive\n face |bytes\n  eth0:1234 5 0 0 0 0 0 0 99 3 0 0 0 0 0 0\nwlan0: 1 2 3\n"
    data, skipped = procfs.parse_net_dev(text)
    assert data["eth0"]["rx_bytes"] == 1234
    assert data["eth0"]["tx_bytes"] == 99
    assert skipped == 1


def test_loadavg_real_file_with_running_and_total():
    assert procfs.parse_loadavg(read(REAL / "loadavg")) == (
        {"load1": 0.02, "load5": 0.04, "load15": 0.05, "running": 1, "total": 497, "last_pid": 11947}, 0)
    assert procfs.parse_loadavg("0.1 0.2 x 1/2 3") == ({}, 1)
    assert procfs.parse_loadavg("") == ({}, 0)


def test_stat_real_file_cpu_lines_and_counters():
    data, skipped = procfs.parse_stat(read(REAL / "stat"))
    assert skipped == 0
    assert sorted(data["cpu"]) == ["cpu", *[f"cpu{i}" for i in range(8)]]
    assert data["cpu"]["cpu"] == {"user": 301854, "nice": 612, "system": 111922, "idle": 8979004,
                                  "iowait": 3552, "irq": 2, "softirq": 3944, "steal": 0, "guest": 0,
                                  "guest_nice": 0}
    assert data["cpu"]["cpu7"]["user"] == 29098
    assert data["counters"] == {"intr": 73777505, "ctxt": 38014093, "btime": 1418183276,
                                "processes": 26442, "procs_running": 2, "procs_blocked": 1,
                                "softirq": 5057579}


def test_stat_old_kernel_short_cpu_lines_and_junk():
    data, skipped = procfs.parse_stat("cpu 1 2 3 4\ncpu0 1 2 3\ncpuX 1 2 3 4\nctxt\nctxt 5\n")
    assert data["cpu"] == {"cpu": {"user": 1, "nice": 2, "system": 3, "idle": 4}}
    assert data["counters"] == {"ctxt": 5}
    assert skipped == 3


def test_vmstat_uptime_version_samples():
    vmstat, skipped = procfs.parse_vmstat(read(HAND / "vmstat"))
    assert skipped == 0
    assert vmstat["pgpgin"] == 1401352
    assert vmstat["pgmajfault"] == 6164
    assert procfs.parse_vmstat("a 1\nb\nc 2 3\nd x\n") == ({"a": 1}, 3)
    assert procfs.parse_uptime(read(HAND / "uptime")) == (
        {"uptime_seconds": 350735.47, "idle_seconds": 234388.90}, 0)
    assert procfs.parse_uptime("12") == ({}, 1)
    kernel, skipped = procfs.parse_version(read(HAND / "version"))
    assert skipped == 0
    assert kernel["release"] == "6.1.0-18-amd64"
    assert kernel["version_string"].startswith("Linux version 6.1.0-18-amd64 (debian-kernel")
    assert procfs.parse_version("garbage") == ({"release": None, "version_string": "garbage"}, 1)


# -- mounts and mountinfo ----------------------------------------------------------------------


def test_mounts_decode_octal_escapes():
    mounts, skipped = procfs.parse_mounts(read(HAND / "mounts"))
    assert skipped == 0
    by_point = {m["mountpoint"]: m for m in mounts}
    data = by_point["/mnt/data set"]
    assert data["device"] == "storage01:/export/mlperf data"
    assert data["fstype"] == "nfs4"
    assert "hard" in data["options"]
    assert "/mnt/tab\tand\\backslash" in by_point
    assert procfs.parse_mounts("onlythree fields here\n") == ([], 1)


def test_mountinfo_fields_optional_fields_and_escapes():
    mounts, skipped = procfs.parse_mountinfo(read(HAND / "mountinfo"))
    assert skipped == 0
    assert len(mounts) == 8
    data = next(m for m in mounts if m["mount_id"] == 40)
    assert data == {
        "mount_id": 40, "parent_id": 22, "major_minor": "0:45", "root": "/",
        "mountpoint": "/mnt/data set", "options": ["rw", "relatime"],
        "optional_fields": ["shared:30", "master:5"], "fstype": "nfs4",
        "source": "storage01:/export/mlperf data",
        "super_options": ["rw", "vers=4.2", "rsize=1048576", "wsize=1048576", "hard", "proto=tcp",
                          "timeo=600", "sec=sys"],
    }
    results = next(m for m in mounts if m["mount_id"] == 41)
    assert results["root"] == "/results"  # a bind of a subdirectory
    assert results["optional_fields"] == ["shared:31"]


def test_mountinfo_without_separator_or_with_bad_ids_is_skipped():
    text = "1 0 8:1 / / rw shared:1 ext4 /dev/sda rw\nx 0 8:1 / / rw - ext4 /dev/sda rw\n1 0 8:1 / / rw -\n"
    assert procfs.parse_mountinfo(text) == ([], 3)


def test_mount_for_longest_prefix_and_last_mount_wins():
    mounts, _ = procfs.parse_mounts(read(HAND / "mounts"))
    assert procfs.mount_for("/mnt/data set/unet3d/train", mounts)["fstype"] == "nfs4"
    assert procfs.mount_for("/mnt/data settled", mounts)["mountpoint"] == "/"  # not a path prefix
    assert procfs.mount_for("/srv/results/run1", mounts)["fstype"] == "tmpfs"  # mounted over the xfs
    assert procfs.mount_for("/sys/fs/cgroup", mounts)["fstype"] == "cgroup2"
    assert procfs.mount_for("/", mounts)["device"] == "/dev/vda"
    assert procfs.mount_for("/x", []) is None


# -- cgroups and os-release --------------------------------------------------------------------


def test_cgroups_v1_file_and_v2_detection():
    controllers, skipped = procfs.parse_cgroups(read(HAND / "cgroups"))
    assert skipped == 0
    assert controllers["memory"] == {"hierarchy": 0, "num_cgroups": 212, "enabled": True}
    assert controllers["misc"]["enabled"] is False
    v2, _ = procfs.parse_cgroup_controllers(read(HAND / "cgroup.controllers"))
    mounts, _ = procfs.parse_mounts(read(HAND / "mounts"))
    summary = procfs.cgroup_summary(controllers, mounts, v2)
    assert (summary["version"], summary["mode"]) == (2, "unified")
    assert summary["v2_controllers"] == ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]
    assert summary["controllers"]["io"] == {"hierarchy": 0, "num_cgroups": None, "enabled": True}


def test_cgroup_modes_from_mounts_alone():
    legacy = [{"fstype": "cgroup", "mountpoint": "/sys/fs/cgroup/memory"}]
    hybrid = [*legacy, {"fstype": "cgroup2", "mountpoint": "/sys/fs/cgroup/unified"}]
    unified = [{"fstype": "cgroup2", "mountpoint": "/sys/fs/cgroup"}]
    assert procfs.cgroup_summary({}, legacy, None)["mode"] == "legacy"
    assert procfs.cgroup_summary({}, hybrid, None)["mode"] == "hybrid"
    assert procfs.cgroup_summary({}, hybrid, None)["version"] == 1
    assert procfs.cgroup_summary({}, unified, None)["version"] == 2
    assert procfs.cgroup_summary({}, [], None)["version"] is None
    assert procfs.parse_cgroups("#h\ncpu 1 2\nmem a 1 1\n") == ({}, 2)


def test_os_release_quotes_escapes_and_bad_lines():
    data, skipped = procfs.parse_os_release(read(HAND / "os-release"))
    assert data["PRETTY_NAME"] == "Rocky Linux 9.3 (Blue Onyx)"
    assert data["ID"] == "rocky"
    assert data["ID_LIKE"] == "rhel centos fedora"
    assert data["VERSION_CODENAME"] == ""
    assert data["ANSI_COLOR"] == "0;32"
    assert data["QUOTED_ESCAPES"] == 'say "hi" for $5 and a \\ backslash'
    assert data["BARE_ESCAPED"] == "a b"
    assert "UNBALANCED" not in data
    assert skipped == 3


@pytest.mark.parametrize(("text", "octal_free"), [
    ("/a\\040b", "/a b"), ("/a\\011b\\012c", "/a\tb\nc"), ("/a\\134040", "/a\\040"), ("/plain", "/plain"),
    ("/a\\04", "/a\\04"),  # too short to be an escape: kept as is
])
def test_unescape_octal(text, octal_free):
    assert procfs.unescape_octal(text) == octal_free
