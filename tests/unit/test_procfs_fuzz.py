"""Property: no text makes any /proc parser raise; output keeps its shape and the skip count is sane.
The parsers and strategies live in tests/fuzz/targets.py, shared with benchmarks/bench_fuzz.py."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlps_module_utils import mlps_procfs as procfs
from tests.fuzz.targets import ANY_TEXT, HOST_ROOTS, LINEISH, PARSERS, check_collect
from tests.fuzz.targets import check_parser as check


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


@settings(max_examples=200, deadline=None)
@given(mounts=st.lists(st.fixed_dictionaries({"mountpoint": st.text(alphabet="/ab.", max_size=8)}), max_size=6),
       path=st.text(alphabet="/ab.\n", max_size=12))
def test_mount_for_picks_the_longest_containing_mountpoint(mounts, path):
    found = procfs.mount_for(path, mounts)
    if found is not None:
        point = found["mountpoint"].rstrip("/") or "/"
        assert path == point or path.startswith(point.rstrip("/") + "/") or point == "/"


@settings(max_examples=150, deadline=None)
@given(controllers=st.dictionaries(st.text(max_size=6), st.dictionaries(st.text(max_size=6), st.integers() | st.text(
           max_size=4) | st.booleans(), max_size=3), max_size=4),
       mounts=st.lists(st.dictionaries(st.sampled_from(["device", "mountpoint", "fstype", "options"]),
                                       st.text(max_size=10) | st.none(), max_size=4), max_size=4),
       v2=st.none() | st.lists(st.text(max_size=6), max_size=4))
def test_cgroup_summary_never_raises(controllers, mounts, v2):
    json.dumps(procfs.cgroup_summary(controllers, mounts, v2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.sampled_from(["schema", "hostname", "collected_at", "meminfo", "cpuinfo", "errors",
                                            "paths", "mounts", "skipped"]),
                           st.none() | st.integers() | st.text(max_size=8) | st.lists(st.integers(), max_size=2)
                           | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2), max_size=9)
       | st.none() | st.integers() | st.lists(st.none(), max_size=2))
def test_check_document_reports_instead_of_raising(doc):
    problems = procfs.check_document(doc)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=HOST_ROOTS)
def test_collect_on_any_host_root_gives_a_valid_document(files):
    check_collect(files)
