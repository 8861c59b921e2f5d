"""Property: no text makes any parser raise; output keeps its shape and the skip count is sane."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlps_module_utils import mlps_procfs as procfs

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
}

# Pieces of the real formats, so generated lines get past the first checks and into the branches.
TOKENS = st.sampled_from([
    ":", " : ", "\t: ", "kB", "KB", "MB", "-", "|", "/", "=", '"', "'", "\\", "\\040", "\\134", "#",
    "processor", "cpu number", "processor 0", "physical id", "core id", "cpu cores", "model name",
    "CPU implementer", "CPU part", "CPU architecture", "0x41", "0xd0c", "vendor_id", "IBM/S390",
    "isa", "rv64imafdc", "uarch", "cpu", "POWER9", "timebase", "flags", "lm", "# processors",
    "machine", "version", "Linux", "cpu0", "ctxt", "intr", "shared:1", "ext4", "cgroup2", "0", "1",
    "-1", "12", "4096", "99999999999999999999", "0.5", "1/2", "sda", "eth0", "\n", "\n\n", " ", "\t",
])
LINEISH = st.lists(TOKENS | st.text(max_size=6), max_size=80).map("".join)
ANY_TEXT = st.text(max_size=400)


def check(name: str, text: str) -> None:
    parser, kind = PARSERS[name]
    data, skipped = parser(text)
    assert isinstance(data, kind)
    assert isinstance(skipped, int)
    assert 0 <= skipped <= max(1, len(text.splitlines()))
    json.dumps(data)  # what comes out must be JSON for Ansible and the MPI gather


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
def test_any_text_never_raises(name, text):
    check(name, text)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=LINEISH)
def test_format_like_text_never_raises(name, text):
    check(name, text)


@settings(max_examples=200, deadline=None)
@given(text=LINEISH)
def test_cpuinfo_summary_is_consistent(text):
    data, _ = procfs.parse_cpuinfo(text)
    summary = data["summary"]
    assert summary["logical_cpus"] >= len(data["cpus"])
    assert 0 <= summary["sockets"] <= max(1, summary["logical_cpus"])
    assert 0 <= summary["physical_cores"] <= summary["logical_cpus"]
    assert summary["topology_source"] in ("cpuinfo", "assumed")


@settings(max_examples=200, deadline=None)
@given(path=st.text(alphabet=st.sampled_from("/ab \t\\\n0"), max_size=20))
def test_kernel_escaping_round_trips(path):
    # The kernel writes space, tab, newline and backslash as \ooo; decoding must give the path back.
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert procfs.unescape_octal(escaped) == path
