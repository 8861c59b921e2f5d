"""The time-series sampler's pure parts: the loop under a fake clock (bounds, stop file, signals,
grid), the counter reader on a copied /proc tree, rates on hand-made counters, the JSONL reader,
the NFS mountstats parser; and the standalone script stopped by a real SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlps_module_utils import mlps_timeseries as ts

ROOT = Path(__file__).resolve().parents[2]
PROCFS = ROOT / "tests" / "fixtures" / "procfs"
SCRIPT = ROOT / "module_utils" / "mlps_timeseries.py"

# Written for this test from the kernel's mountstats format (fs/nfs/super.c, nfs_show_stats):
# two NFS mounts (one with an escaped space in its path), one local mount, and the per-op lines.
MOUNTSTATS = """\
device rootfs mounted on / with fstype rootfs
device /dev/sda1 mounted on /boot with fstype ext4
device nfs1:/export/data mounted on /mnt/data with fstype nfs4 statvers=1.1
\topts:\trw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,acregmin=3,hard,proto=tcp,sec=sys
\tage:\t4711
\tcaps:\tcaps=0x3ffdf,wtmult=512,dtsize=32768,bsize=0,namlen=255
\tsec:\tflavor=1,pseudoflavor=1
\tevents:\t52 362 0 18 62 14 509 0 0 1 0 0 0 0 1 0 0 21 0 0 0 0 0 0 0 0 0
\tbytes:\t1048576 2097152 4096 8192 1052672 2105344 256 512
\tRPC iostats version: 1.1  p/v: 100003/4 (nfs)
\txprt:\ttcp 0 0 1 0 27 41 41 0 41 0 2 0 0
\tper-op statistics
\t        NULL: 1 1 0 44 24 0 0 0 0
\t        READ: 16 16 0 2560 1052672 3 40 45 0
\t       WRITE: 32 32 0 2105344 4608 7 80 90 0
\t      COMMIT: 2 2 0 256 208 0 1 1 0

device nfs2:/home mounted on /mnt/home\\040dir with fstype nfs statvers=1.1
\topts:\trw,vers=3
\tbytes:\t10 20 30 40 50 60 1 2
\tper-op statistics
\t        READ: not-a-number 1 0 0 0 0 0 0
"""


class FakeClock:
    """Monotonic time that moves only when the loop sleeps (or a fake read costs time)."""

    def __init__(self, start: float = 1000.0, wall: float = 1.8e9):
        self.now = start
        self.offset = wall - start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.offset

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, f"slept {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds


class FakeReader:
    def __init__(self, clock: FakeClock, cost: float = 0.0, errors: dict | None = None):
        self.clock, self.cost, self.calls, self.errors = clock, cost, 0, errors or {}

    def __call__(self):
        self.calls += 1
        self.clock.now += self.cost
        return {"vmstat": {"pgpgin": self.calls}}, dict(self.errors)


def loop(clock: FakeClock, reader=None, **kwargs) -> tuple[dict, list[dict]]:
    lines: list[str] = []
    options = {"interval": 1.0, "max_samples": 1000, "max_duration": 3600.0, "host": "h1", **kwargs}
    result = ts.sample_loop(reader or FakeReader(clock), lines.append, clock=clock, **options)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    return result, [json.loads(line) for line in lines]


# -- the loop -----------------------------------------------------------------------------------


def test_max_samples_bounds_the_loop_on_a_fixed_grid():
    clock = FakeClock()
    result, records = loop(clock, FakeReader(clock, cost=0.013), max_samples=5)
    assert result == {"samples": 5, "duration": pytest.approx(4.013), "reason": "max_samples"}
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["mono"] for r in records] == pytest.approx([1000.0, 1001.0, 1002.0, 1003.0, 1004.0])  # no drift
    assert [r["wall"] - r["mono"] for r in records] == pytest.approx([1.8e9 - 1000.0] * 5)
    assert {r["schema"] for r in records} == {"mlps-timeseries/1"}
    assert {r["host"] for r in records} == {"h1"}
    assert [r["counters"]["vmstat"]["pgpgin"] for r in records] == [1, 2, 3, 4, 5]
    assert all("errors" not in r for r in records)
    assert max(clock.sleeps) <= 0.2  # the stop file is looked at every 0.2 s at least


def test_max_duration_bounds_the_loop():
    clock = FakeClock()
    result, records = loop(clock, interval=1.0, max_duration=3.5)
    assert (result["reason"], result["samples"]) == ("max_duration", 4)
    assert result["duration"] == pytest.approx(3.5)
    assert [r["mono"] for r in records] == pytest.approx([1000.0, 1001.0, 1002.0, 1003.0])


def test_stop_file_stops_within_a_check_and_takes_a_closing_sample():
    clock = FakeClock()
    result, records = loop(clock, interval=1.0, stop_file="/run/stop", exists=lambda path: clock.now >= 1002.3)
    assert (result["reason"], result["samples"]) == ("stop_file", 4)
    assert records[-1]["mono"] == pytest.approx(1002.4)  # seen at the next 0.2 s check after 2.3 s
    assert [r["seq"] for r in records] == [0, 1, 2, 3]


def test_a_stop_file_present_at_start_stops_after_the_closing_sample():
    clock = FakeClock()
    seen = []
    result, _ = loop(clock, stop_file="/run/stop", exists=lambda path: seen.append(path) or True)
    assert (result["reason"], result["samples"], seen) == ("stop_file", 2, ["/run/stop"])


def test_signal_stops_the_loop_with_a_closing_sample():
    clock = FakeClock()
    result, records = loop(clock, interval=0.5, stop_requested=lambda: clock.now >= 1001.2)
    assert (result["reason"], result["samples"]) == ("signal", 4)  # 0, 0.5, 1.0, closing at 1.2
    assert records[-1]["mono"] == pytest.approx(1001.2)


def test_the_closing_sample_never_passes_max_samples():
    clock = FakeClock()
    result, _ = loop(clock, max_samples=1, stop_file="/run/stop", exists=lambda path: True)
    assert (result["reason"], result["samples"]) == ("max_samples", 1)


def test_reads_slower_than_the_interval_skip_slots_instead_of_bursting():
    clock = FakeClock()
    _, records = loop(clock, FakeReader(clock, cost=2.5), interval=1.0, max_samples=4)
    monos = [r["mono"] for r in records]
    assert monos == pytest.approx([1000.0, 1002.5, 1005.0, 1007.5])
    assert clock.sleeps == []


def test_source_errors_are_kept_on_the_sample():
    clock = FakeClock()
    _, records = loop(clock, FakeReader(clock, errors={"nfs": "PermissionError: no"}), max_samples=2)
    assert [r["errors"] for r in records] == [{"nfs": "PermissionError: no"}] * 2


# -- the counter reader on a copied /proc tree ------------------------------------------------------


def proc_tree(base: Path) -> Path:
    root = base / "root"
    shutil.copytree(PROCFS / "prometheus-procfs" / "proc", root / "proc")
    shutil.copy(PROCFS / "handwritten" / "vmstat", root / "proc" / "vmstat")
    (root / "proc" / "self").mkdir()
    (root / "proc" / "self" / "mountstats").write_text(MOUNTSTATS)
    return root


def test_reader_reads_every_source_and_keeps_the_files_open(tmp_path):
    root = proc_tree(tmp_path)
    reader = ts.CounterReader(root=str(root))
    counters, errors = reader()
    assert errors == {}
    assert set(counters) == {"diskstats", "net_dev", "vmstat", "stat_cpu", "stat", "meminfo", "nfs"}
    assert counters["meminfo"]["Cached"] == 12007640 * 1024
    assert counters["net_dev"]["lo"]["rx_bytes"] == 1664039048
    assert counters["stat_cpu"]["cpu"]["user"] == 301854
    assert counters["vmstat"] == {"nr_free_pages": 5222400, "nr_dirty": 383, "nr_writeback": 0, "pgpgin": 1401352,
                                  "pgpgout": 1813844, "pswpin": 0, "pswpout": 0, "pgfault": 26470911,
                                  "pgmajfault": 6164}  # the subset: no nr_zone_* counters
    assert set(counters["nfs"]) == {"/mnt/data", "/mnt/home dir"}
    fds = {name: handle.fd for name, handle in reader.files.items()}

    # rewritten in place (same inode): the next sample sees the new text through the same descriptor
    diskstats = root / "proc" / "diskstats"
    with diskstats.open("r+") as handle:
        handle.write("   8       0 sdz 1 0 2 0 3 0 4 0 0 0 0\n")
        handle.truncate()
    counters, errors = reader()
    assert (errors, list(counters["diskstats"])) == ({}, ["sdz"])
    assert counters["diskstats"]["sdz"]["sectors_written"] == 4
    assert {name: handle.fd for name, handle in reader.files.items()} == fds
    reader.close()
    assert all(handle.fd is None for handle in reader.files.values())


def test_reader_reports_a_missing_source_and_reopens_it_when_it_appears(tmp_path):
    root = proc_tree(tmp_path)
    (root / "proc" / "net" / "dev").rename(root / "proc" / "net" / "dev.away")
    reader = ts.CounterReader(root=str(root), nfs=False, vmstat="all")
    counters, errors = reader()
    assert list(errors) == ["net_dev"] and errors["net_dev"].startswith("FileNotFoundError")
    assert "net_dev" not in counters and "nfs" not in counters
    assert "nr_zone_active_anon" in counters["vmstat"]  # vmstat="all" keeps counters the subset leaves out
    (root / "proc" / "net" / "dev.away").rename(root / "proc" / "net" / "dev")
    counters, errors = reader()
    assert errors == {}
    assert "eth0" in counters["net_dev"] or "lo" in counters["net_dev"]


def test_reader_skips_mountstats_without_nfs(tmp_path):
    root = proc_tree(tmp_path)
    (root / "proc" / "self" / "mountstats").write_text("device /dev/sda1 mounted on / with fstype ext4\n")
    counters, errors = ts.CounterReader(root=str(root))()
    assert (counters["nfs"], errors) == ({}, {})


def test_reader_on_this_hosts_proc():
    reader = ts.CounterReader()
    counters, errors = reader()
    reader.close()
    assert errors == {}
    assert counters["stat_cpu"]["cpu"]["idle"] > 0
    assert counters["meminfo"]["MemTotal"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# -- one run into a file --------------------------------------------------------------------------


def test_run_writes_jsonl_that_reads_back(tmp_path):
    # Whatever handler the test process already had (ansible-runner installs one) must come back.
    before = signal.getsignal(signal.SIGTERM)
    root = proc_tree(tmp_path)
    out = tmp_path / "ts.jsonl"
    out.write_text("old content that must go\n")
    clock = FakeClock()
    result = ts.run(str(out), interval=0.5, max_samples=3, host="client07", root=str(root), clock=clock)
    assert result == {"samples": 3, "duration": pytest.approx(1.0), "reason": "max_samples", "signal": None,
                      "bytes": out.stat().st_size, "output": str(out), "interval": 0.5, "max_samples": 3,
                      "max_duration": ts.DEFAULT_MAX_DURATION, "host": "client07", "stop_file": None,
                      "follow": None}
    samples, skipped = ts.read_jsonl(str(out))
    assert (len(samples), skipped) == (3, 0)
    assert samples[0]["counters"]["nfs"]["/mnt/data"]["bytes"]["normal_read"] == 1048576
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored afterwards


def test_run_refuses_bad_options_with_every_problem(tmp_path):
    with pytest.raises(ValueError, match=r"^output=relative.jsonl: ") as error:
        ts.run("relative.jsonl", interval=0, max_samples=0, max_duration=-1, stop_file="stop", host="")
    assert str(error.value) == (
        "output=relative.jsonl: expected an absolute file path such as /tmp/mlps/timeseries.jsonl; "
        "interval=0: expected seconds above 0, such as 1.0; "
        "max_duration=-1: expected seconds above 0, such as 21600; "
        "max_samples=0: expected at least 1 (or leave it unset); "
        "stop_file=stop: expected an absolute path such as /tmp/mlps/sampler.stop; "
        "host: expected a non-empty label such as the inventory hostname")
    assert ts.check_options(str(tmp_path), 1, None, None, 60, "h") == [
        f"output={tmp_path}: is a directory; expected a file path inside it"]
    assert ts.check_options(str(tmp_path / "no" / "x.jsonl"), 1, None, None, 60, "h") == [
        f"output={tmp_path / 'no' / 'x.jsonl'}: directory {tmp_path / 'no'} does not exist; create it first"]
    out = str(tmp_path / "x.jsonl")
    assert ts.check_options(out, 1, out, None, 60, "h", "some") == [
        f"stop_file={out}: is the output file; give a separate path", "vmstat=some: expected subset or all"]


def test_default_max_samples_covers_the_whole_duration():
    assert ts.default_max_samples(1.0, 21600) == 21602
    assert ts.default_max_samples(0.3, 1.0) == 5


def run_script(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_lines(path: Path, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} lines in {timeout} s")


def test_script_stops_on_sigterm_with_whole_lines(tmp_path):
    out = tmp_path / "ts.jsonl"
    proc = run_script("--output", str(out), "--interval", "0.1", "--max-duration", "60", "--host", "h9")
    wait_for_lines(out, 3)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert (result["reason"], result["signal"], result["host"]) == ("signal", "SIGTERM", "h9")
    text = out.read_text()
    assert text.endswith("\n")
    samples, skipped = ts.read_jsonl(str(out))
    assert (len(samples), skipped) == (result["samples"], 0)
    assert [s["seq"] for s in samples] == list(range(result["samples"]))
    assert samples[-1]["counters"]["stat_cpu"]["cpu"]["user"] >= samples[0]["counters"]["stat_cpu"]["cpu"]["user"]


def test_script_stops_on_the_stop_file(tmp_path):
    out, stop = tmp_path / "ts.jsonl", tmp_path / "stop"
    proc = run_script("--output", str(out), "--interval", "0.1", "--stop-file", str(stop), "--max-duration", "60")
    wait_for_lines(out, 2)
    stop.touch()
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["reason"] == "stop_file"


def test_script_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = run_script("--output", "ts.jsonl", "--interval", "-1")
    stdout, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stdout) == (2, "")
    assert stderr == ("mlps_timeseries: output=ts.jsonl: expected an absolute file path such as "
                      "/tmp/mlps/timeseries.jsonl; interval=-1.0: expected seconds above 0, such as 1.0\n")


# -- rates ----------------------------------------------------------------------------------------


def sample(mono: float, disk: dict, net: dict, cpu: dict, cached: int, nfs: dict | None = None) -> dict:
    return {"schema": ts.SCHEMA, "host": "h1", "wall": 1.8e9 + mono, "mono": mono, "seq": 0,
            "counters": {"diskstats": disk, "net_dev": net, "stat_cpu": {"cpu": cpu},
                         "meminfo": {"Cached": cached}, "nfs": nfs or {}}}


def disk(read: int, written: int, reads: int = 0, writes: int = 0) -> dict:
    return {"sectors_read": read, "sectors_written": written, "reads_completed": reads, "writes_completed": writes}


CPU_A = {"user": 100, "nice": 0, "system": 50, "idle": 800, "iowait": 10, "irq": 0, "softirq": 0, "steal": 0,
         "guest": 7, "guest_nice": 0}
CPU_B = {**CPU_A, "user": 160, "system": 70, "idle": 900, "iowait": 30, "guest": 50}


def test_rates_from_hand_made_counters():
    first = sample(10.0, {"sda": disk(1000, 0, 10, 0), "sda1": disk(1000, 0), "dm-0": disk(0, 0),
                          "nvme0n1": disk(0, 100, 0, 1), "nvme0n1p1": disk(0, 100)},
                   {"lo": {"rx_bytes": 0, "tx_bytes": 0}, "eth0": {"rx_bytes": 0, "tx_bytes": 10}},
                   CPU_A, 4096, {"/mnt/data": {"bytes": {"normal_read": 0, "direct_read": 0, "normal_write": 0,
                                                          "direct_write": 0, "server_read": 0}}})
    second = sample(12.0, {"sda": disk(3000, 0, 30, 0), "sda1": disk(3000, 0), "dm-0": disk(2000, 0),
                           "nvme0n1": disk(0, 4100, 0, 9), "nvme0n1p1": disk(0, 4100)},
                    {"lo": {"rx_bytes": 5000, "tx_bytes": 5000}, "eth0": {"rx_bytes": 1000, "tx_bytes": 410}},
                    CPU_B, 8192, {"/mnt/data": {"bytes": {"normal_read": 4096, "direct_read": 4096,
                                                           "normal_write": 0, "direct_write": 2048,
                                                           "server_read": 1024}}})
    [rate] = ts.rates([first, second])
    assert (rate["dt"], rate["mono"], rate["host"]) == (2.0, 12.0, "h1")
    assert rate["disk"]["sda"] == {"read_bytes_per_s": 2000 * 512 / 2, "write_bytes_per_s": 0.0,
                                   "reads_per_s": 10.0, "writes_per_s": 0.0}
    assert rate["disk"]["nvme0n1"]["write_bytes_per_s"] == 4000 * 512 / 2
    # whole disks only: partitions and the dm device would count the same bytes twice
    assert rate["disk_total"] == {"read_bytes_per_s": 512000.0, "write_bytes_per_s": 1024000.0}
    assert rate["net"]["eth0"] == {"rx_bytes_per_s": 500.0, "tx_bytes_per_s": 200.0}
    assert rate["net_total"] == {"rx_bytes_per_s": 500.0, "tx_bytes_per_s": 200.0}  # lo left out
    # busy = user 60 + system 20 (guest is inside user); idle = 100 + iowait 20; 80 / 200
    assert rate["cpu_busy_pct"] == 40.0
    assert rate["page_cache_bytes"] == 8192
    # server_read: only what came from the server (normal_read also counts page-cache hits)
    assert rate["nfs"] == {"/mnt/data": {"read_bytes_per_s": 4096.0, "write_bytes_per_s": 1024.0,
                                         "server_read_bytes_per_s": 512.0}}


def test_totals_only_rates_are_the_full_rates_totals():
    first = sample(10.0, {"sda": disk(1000, 0), "sda1": disk(1000, 0), "loop0": disk(5, 5), "vdb": disk(7, 9)},
                   {"lo": {"rx_bytes": 0, "tx_bytes": 0}, "eth0": {"rx_bytes": 0, "tx_bytes": 10}}, CPU_A, 4096,
                   {"/mnt": {"bytes": {"normal_read": 0}}})
    second = sample(12.0, {"sda": disk(3000, 0), "sda1": disk(3000, 0), "loop0": disk(9, 9), "vdb": disk(5, 19)},
                    {"lo": {"rx_bytes": 50, "tx_bytes": 50}, "eth0": {"rx_bytes": 1000, "tx_bytes": 410}}, CPU_B,
                    8192, {"/mnt": {"bytes": {"normal_read": 10}}})
    [full] = ts.rates([first, second])
    [quick] = ts.rates([first, second], totals_only=True)
    assert quick["disk"] == quick["net"] == quick["nfs"] == {}
    assert full["disk"] and full["nfs"]
    # vdb's read counter went back: the read total is unknown in both
    assert quick["disk_total"] == full["disk_total"] == {"read_bytes_per_s": None, "write_bytes_per_s": 2560.0}
    same = ("net_total", "cpu_busy_pct", "page_cache_bytes", "dt", "wall", "mono", "host")
    assert {k: quick[k] for k in same} == {k: full[k] for k in same}


def test_rates_mark_counters_that_went_back_and_skip_backwards_time():
    a = sample(1.0, {"sda": disk(5000, 10)}, {"eth0": {"rx_bytes": 100, "tx_bytes": 100}}, CPU_B, 1)
    b = sample(2.0, {"sda": disk(10, 20)}, {"eth0": {"rx_bytes": 50, "tx_bytes": 300}}, CPU_A, 2)
    c = sample(2.0, {"sda": disk(20, 20)}, {"eth0": {"rx_bytes": 60, "tx_bytes": 300}}, CPU_A, 3)
    rates = ts.rates([a, b, c])
    assert len(rates) == 1  # b -> c has no time between them
    [rate] = rates
    assert rate["disk"]["sda"]["read_bytes_per_s"] is None
    assert rate["disk"]["sda"]["write_bytes_per_s"] == 10 * 512.0
    assert rate["disk_total"] == {"read_bytes_per_s": None, "write_bytes_per_s": 5120.0}
    assert rate["net_total"] == {"rx_bytes_per_s": None, "tx_bytes_per_s": 200.0}
    assert rate["cpu_busy_pct"] is None


def test_rates_of_a_real_series(tmp_path):
    clock = FakeClock()
    out = tmp_path / "ts.jsonl"
    ts.run(str(out), interval=0.5, max_samples=3, host="h", root=str(proc_tree(tmp_path)), clock=clock)
    samples, _ = ts.read_jsonl(str(out))
    rates = ts.rates(samples)
    assert [r["dt"] for r in rates] == [0.5, 0.5]
    assert all(r["disk_total"] == {"read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0} for r in rates)
    assert rates[0]["page_cache_bytes"] == 12007640 * 1024


@pytest.mark.parametrize(("name", "partition"), [("sda1", True), ("sda", False), ("nvme0n1p2", True),
                                                  ("nvme0n1", False), ("mmcblk0p1", True), ("md0", False),
                                                  ("vdb12", True), ("dm-3", False)])
def test_is_partition(name, partition):
    names = {"sda", "sda1", "nvme0n1", "nvme0n1p2", "mmcblk0", "mmcblk0p1", "md0", "vdb", "vdb12", "dm-3"}
    assert ts.is_partition(name, names) is partition


# -- the JSONL reader -----------------------------------------------------------------------------


def test_read_jsonl_skips_a_torn_last_line_and_foreign_lines(tmp_path):
    good = [ts.sample_line("h", n, 1.0 + n, 2.0 + n, {"vmstat": {"pgpgin": n}}, {}) for n in range(3)]
    path = tmp_path / "ts.jsonl"
    path.write_text("".join(good) + '{"schema": "other/1", "counters": {}}\n\n' + good[0][:37])
    samples, skipped = ts.read_jsonl(str(path))
    assert [s["seq"] for s in samples] == [0, 1, 2]
    assert skipped == 2


# -- NFS mountstats -------------------------------------------------------------------------------


def test_parse_mountstats_keeps_nfs_byte_and_op_counters():
    data, skipped = ts.parse_mountstats(MOUNTSTATS)
    assert set(data) == {"/mnt/data", "/mnt/home dir"}
    mount = data["/mnt/data"]
    assert (mount["device"], mount["fstype"]) == ("nfs1:/export/data", "nfs4")
    assert mount["bytes"] == {"normal_read": 1048576, "normal_write": 2097152, "direct_read": 4096,
                              "direct_write": 8192, "server_read": 1052672, "server_write": 2105344,
                              "read_pages": 256, "write_pages": 512}
    assert mount["ops"]["READ"] == {"ops": 16, "transmissions": 16, "timeouts": 0, "bytes_sent": 2560,
                                    "bytes_recv": 1052672}
    assert mount["ops"]["WRITE"]["bytes_sent"] == 2105344
    assert "COMMIT" not in mount["ops"]
    assert data["/mnt/home dir"]["bytes"]["server_write"] == 60
    assert "ops" not in data["/mnt/home dir"]
    assert skipped == 1  # the READ line that is not numbers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*MOUNTSTATS.splitlines(), "device", "device x mounted on", "\tbytes:", "\tREAD:",
                                 "fstype nfs", ""]) | st.text(max_size=30), max_size=40).map("\n".join))
def test_parse_mountstats_never_raises(text):
    data, skipped = ts.parse_mountstats(text)
    assert isinstance(data, dict) and skipped >= 0
    json.dumps(data)


def _fake_proc(tmp_path, cmdlines: dict) -> str:
    proc = tmp_path / "proc"
    proc.mkdir(exist_ok=True)
    for child in proc.iterdir():
        (child / "cmdline").unlink()
        child.rmdir()
    for pid, argv in cmdlines.items():
        (proc / str(pid)).mkdir()
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return str(proc)


def test_follower_stops_once_the_phase_processes_have_come_and_gone(tmp_path):
    clock = FakeClock()
    marker = "/var/tmp/mlps/training/run-20260101_000000/dlio"
    proc = _fake_proc(tmp_path, {10: ["bash"]})
    follower = ts.PhaseFollower(marker, startup=60, every=2, proc=proc, clock=clock)
    assert follower() is None  # nothing yet: the launch has not started
    _fake_proc(tmp_path, {10: ["bash"], 11: ["python", "dlio_benchmark", f"hydra.run.dir={marker}"]})
    clock.sleep(1)
    assert follower() is None and not follower.seen  # scans at most every 2 s
    clock.sleep(1)
    assert follower() is None and follower.seen
    _fake_proc(tmp_path, {10: ["bash"]})
    clock.sleep(2)
    assert follower() == "phase_ended"


def test_follower_gives_up_when_the_phase_never_starts(tmp_path):
    clock = FakeClock()
    follower = ts.PhaseFollower("/no/such/marker", startup=10, every=2, proc=_fake_proc(tmp_path, {}), clock=clock)
    clock.sleep(8)
    assert follower() is None
    clock.sleep(2)
    assert follower() == "phase_never_started"


def test_run_with_follow_ends_on_its_own_when_the_phase_is_over(tmp_path):
    """A real sampler following a real process: it stops within a few seconds of the process ending."""
    import subprocess
    import sys
    import time

    marker = f"mlps-follow-test-{tmp_path.name}"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)", marker])
    started = time.monotonic()
    result = ts.run(str(tmp_path / "ts.jsonl"), interval=0.2, max_duration=60, host="h", follow=marker,
                    follow_startup=30)
    child.wait()
    assert result["reason"] == "phase_ended"
    assert result["follow"] == marker
    assert 2 <= time.monotonic() - started < 10
