"""The suite relies on pytest-xdist's `--dist loadgroup` to keep tests that share something
machine-wide (one embedded Milvus per host) on one worker. Under pytest 9 with xdist 3.8 the groups
were silently ignored, so this runs a small session the way `make test` does and checks them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os, time, pytest
pytestmark = pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(4))
def test_grouped(n):
    time.sleep(0.2)
    print("WORKER", os.environ["PYTEST_XDIST_WORKER"])
"""
OTHER = """
import time
def test_a(): time.sleep(0.2)
def test_b(): time.sleep(0.2)
"""


def test_a_named_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_one.py").write_text(GROUPED)
    (tmp_path / "test_two.py").write_text(OTHER)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                           "-v", "-s", "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    workers = {line.split()[0] for line in proc.stdout.splitlines() if "test_grouped" in line and "PASSED" in line}
    assert len(workers) == 1 and workers <= {"[gw0]", "[gw1]"}, proc.stdout[-2000:]
