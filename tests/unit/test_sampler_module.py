"""library/mlps_sampler.py run for real: started with async/poll 0 by ansible-playbook, stopped by
its stop file and collected with async_status, as a campaign does; also check mode, bad input and
its documentation."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlps_module_utils import mlps_timeseries as ts
from tests import adhoc
from tests.adhoc import run_module

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "library" / "mlps_sampler.py"
BIN = Path(sys.executable).parent

PLAYBOOK = """\
- name: Sample during a run the way a campaign does
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the sampler in the background
      mlps_sampler:
        output: "{{ out }}"
        stop_file: "{{ stop | default(omit) }}"
        interval: 0.2
        max_duration: "{{ max_duration | default(60) }}"
        host: "{{ inventory_hostname }}"
      async: "{{ async_bound | default(120) }}"
      poll: 0
      register: sampler_job

    - name: Wait until it has written a few samples
      ansible.builtin.wait_for:
        path: "{{ out }}"
        search_regex: '"seq":3,'
        timeout: 60

    - name: Create the stop file
      ansible.builtin.file:
        path: "{{ stop }}"
        state: touch
        mode: "0644"
      when: stop is defined

    - name: Wait for the sampler to finish
      ansible.builtin.async_status:
        jid: "{{ sampler_job.ansible_job_id }}"
      register: sampler_result
      until: sampler_result.finished
      retries: 60
      delay: 1
      failed_when: false

    - name: Keep the result for the test
      ansible.builtin.copy:
        content: "{{ sampler_result | to_json }}"
        dest: "{{ result_file }}"
        mode: "0644"
"""


def env(tmp_path: Path) -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_ASYNC_DIR=str(tmp_path / "async"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def play(tmp_path: Path, **extra) -> dict:
    book = tmp_path / "sample.yml"
    book.write_text(PLAYBOOK)
    result_file = tmp_path / "result.json"
    argv = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory" / "localhost.ini"), str(book),
            "-e", json.dumps({"result_file": str(result_file), **extra})]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env(tmp_path), check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(result_file.read_text())


@pytest.mark.integration
def test_async_sampler_stops_on_its_stop_file(tmp_path):
    out, stop = tmp_path / "series" / "h.jsonl", tmp_path / "sampler.stop"
    out.parent.mkdir()
    result = play(tmp_path, out=str(out), stop=str(stop))
    assert result["finished"] == 1 and not result.get("failed"), result
    assert (result["reason"], result["signal"], result["changed"]) == ("stop_file", None, True)
    assert (result["output"], result["host"], result["interval"], result["stop_file"]) == \
        (str(out), "localhost", 0.2, str(stop))
    assert result["max_samples"] == ts.default_max_samples(0.2, 60.0)
    samples, skipped = ts.read_jsonl(str(out))
    assert skipped == 0
    assert len(samples) == result["samples"] >= 5  # seq 0..3 seen before the stop, plus the closing one
    assert result["bytes"] == out.stat().st_size
    assert [s["seq"] for s in samples] == list(range(len(samples)))
    assert {s["host"] for s in samples} == {"localhost"}
    gaps = [b["mono"] - a["mono"] for a, b in itertools.pairwise(samples)]
    # the 0.2 s grid, with room for a loaded machine (a sample may come late; the next one is back on the grid)
    assert min(gaps) > 0 and statistics.median(gaps) == pytest.approx(0.2, abs=0.1), gaps
    assert samples[-1]["mono"] - samples[0]["mono"] == pytest.approx(result["duration"], abs=0.05)
    counters = samples[-1]["counters"]
    assert {"diskstats", "net_dev", "vmstat", "stat_cpu", "stat", "meminfo", "nfs"} <= set(counters)
    assert "lo" in counters["net_dev"]
    rates = ts.rates(samples)
    assert len(rates) == len(samples) - 1
    assert all(r["cpu_busy_pct"] is not None and 0.0 <= r["cpu_busy_pct"] <= 100.0 for r in rates)


@pytest.mark.integration
def test_async_bound_kill_leaves_only_whole_lines(tmp_path):
    """Ansible's async time limit SIGKILLs the sampler: the lines written so far all read back."""
    out = tmp_path / "h.jsonl"
    result = play(tmp_path, out=str(out), async_bound=3, max_duration=60)
    assert (result["finished"], result["msg"]) == (True, "Timeout exceeded"), result
    assert "reason" not in result  # killed: the module never returned
    samples, skipped = ts.read_jsonl(str(out))
    assert len(samples) >= 4
    assert skipped <= 1  # at worst the line being written when the kill came


def process_holding(path: Path, timeout: float = 60.0) -> int:
    """The pid of the process that has `path` open (the module Ansible left running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if any(os.readlink(fd) == str(path) for fd in (entry / "fd").iterdir()):
                        return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no process opened {path} within {timeout} s")


@pytest.mark.integration
def test_async_sampler_stops_cleanly_on_sigterm(tmp_path):
    out = tmp_path / "h.jsonl"
    status, started = ansible({"output": str(out), "interval": 0.2, "max_duration": 60}, "-B", "120", "-P", "0",
                              environment={"ANSIBLE_ASYNC_DIR": str(tmp_path / "async")})
    assert status == "CHANGED", started
    pid = process_holding(out)
    while out.read_bytes().count(b"\n") < 3:
        time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        status, result = ansible({"jid": started["ansible_job_id"]}, module="async_status",
                                 environment={"ANSIBLE_ASYNC_DIR": str(tmp_path / "async")})
        if result.get("finished"):
            break
        time.sleep(0.2)
    assert (result["reason"], result["signal"]) == ("signal", "SIGTERM"), result
    samples, skipped = ts.read_jsonl(str(out))
    assert (len(samples), skipped) == (result["samples"], 0)
    assert out.read_bytes().endswith(b"\n")


def ansible(module_args: dict, *extra: str, module: str = "mlps_sampler", environment: dict | None = None
            ) -> tuple[str, dict]:
    return run_module(module, module_args, *extra, env=environment)[:2]

@pytest.mark.integration
def test_bounded_run_without_async_returns_its_samples(tmp_path):
    out = tmp_path / "h.jsonl"
    status, result = ansible({"output": str(out), "interval": 0.1, "max_samples": 3, "nfs_mountstats": False,
                              "vmstat": "all", "host": "client07"})
    assert status == "CHANGED", result
    assert (result["samples"], result["reason"], result["host"]) == (3, "max_samples", "client07")
    samples, skipped = ts.read_jsonl(str(out))
    assert (len(samples), skipped) == (3, 0)
    assert "nfs" not in samples[0]["counters"]
    assert "nr_free_pages" in samples[0]["counters"]["vmstat"] and len(samples[0]["counters"]["vmstat"]) > 50


@pytest.mark.integration
def test_check_mode_says_what_it_would_do_and_writes_nothing(tmp_path):
    out = tmp_path / "h.jsonl"
    status, result = ansible({"output": str(out), "interval": 2.0, "max_duration": 100}, "--check")
    assert status == "SUCCESS", result
    assert (result["changed"], result["samples"], result["reason"], result["max_samples"]) == (False, 0, None, 52)
    assert result["msg"] == f"check mode: would sample every 2 s into {out}"
    assert not out.exists()


@pytest.mark.integration
def test_bad_arguments_fail_with_every_problem(tmp_path):
    status, result = ansible({"output": str(tmp_path / "missing" / "h.jsonl"), "interval": -1, "max_samples": 0})
    assert status == "FAILED!"
    assert result["msg"] == (f"output={tmp_path / 'missing' / 'h.jsonl'}: directory {tmp_path / 'missing'} does not "
                             "exist; create it first; interval=-1.0: expected seconds above 0, such as 1.0; "
                             "max_samples=0: expected at least 1 (or leave it unset)")


def test_documentation_values():
    """Names and types against ARGUMENT_SPEC: tests/unit/test_module_docs.py; here what only the sampler has."""
    literals = adhoc.module_literals(MODULE)
    assert yaml.safe_load(literals["DOCUMENTATION"])["options"]["max_duration"]["default"] == ts.DEFAULT_MAX_DURATION
    returns = yaml.safe_load(literals["RETURN"])
    assert set(returns) == {"output", "samples", "duration", "reason", "signal", "bytes", "interval", "max_samples",
                            "max_duration", "host", "stop_file", "follow"}


@pytest.mark.integration
def test_ansible_doc_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_sampler"],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stderr
    for option in ("output", "interval", "stop_file", "max_samples", "max_duration", "nfs_mountstats", "host"):
        assert option in proc.stdout
