"""module_utils/mlps_mpi_collect.py: reading what rank 0 printed, the launcher's fallback, the
script's own argument checks, and library/mlps_mpi_facts.py run for real through `ansible`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlps_module_utils import mlps_procfs as procfs
from mlps_module_utils.mlps_mpi_collect import MARKER, GatherError, gathered_or_fallback, parse_gathered
from tests.adhoc import run_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "module_utils" / "mlps_mpi_collect.py"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def live_doc() -> dict:
    return procfs.collect("/", gather_cpus=False, method="mpi")


def gathered(docs: list) -> str:
    return MARKER + json.dumps(docs) + "\n"


def test_parse_reads_the_marker_line_among_other_output(live_doc):
    other = dict(live_doc, hostname="other-host")
    text = "Open MPI note on stdout\n" + gathered([live_doc]) + "stray\n" + gathered([live_doc, other])
    docs = parse_gathered(text)
    assert [d["hostname"] for d in docs] == [live_doc["hostname"], "other-host"]  # the last line wins


@pytest.mark.parametrize(("text", "reason"), [
    ("", "printed no MLPS-FACTS line"),
    ("hello\n[1, 2]\n", "printed no MLPS-FACTS line"),
    (MARKER + "[{\"schema\": \n", "is not JSON"),
    (MARKER + "{}\n", "not a non-empty list"),
    (MARKER + "[]\n", "not a non-empty list"),
    (MARKER + "[{\"schema\": \"other/1\"}]\n", "gathered document 0 is not mlps-host-facts/1: schema"),
])
def test_parse_rejects_output_without_valid_facts(text, reason):
    with pytest.raises(GatherError, match=reason):
        parse_gathered(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_never_raises_anything_but_gather_error(text):
    for candidate in (text, MARKER + text):
        try:
            docs = parse_gathered(candidate)
        except GatherError:
            continue
        assert all(procfs.check_document(d) == [] for d in docs)


def test_success_returns_every_document_with_method_mpi(live_doc):
    result = gathered_or_fallback(gathered([live_doc, dict(live_doc, machine_id="b")]), "", ["h1", "h2"])
    assert result["collection_method"] == "mpi"
    assert len(result["facts"]) == 2
    assert result["missing"] == {} and result["warnings"] == []


def test_fewer_documents_than_hosts_is_a_warning(live_doc):
    result = gathered_or_fallback(gathered([live_doc]), "", ["h1", "h2", "h3"])
    assert result["collection_method"] == "mpi"
    assert result["warnings"] == ["MPI collection returned 1 documents for 3 hosts; check that the launch "
                                  "placed one rank on each host"]


@pytest.mark.parametrize(("output", "launch_error", "reason"), [
    ("", "mpirun exited with 1: ssh: connect to host h3 port 22: No route to host",
     "mpirun exited with 1: ssh: connect to host h3 port 22: No route to host"),
    ("garbage only\n", "", "rank 0 printed no MLPS-FACTS line"),
])
def test_failure_falls_back_to_this_host_with_a_warning(output, launch_error, reason, tmp_path):
    result = gathered_or_fallback(output, launch_error, ["h1", "h2", "h3"], paths=[str(tmp_path)])
    assert result["collection_method"] == "local_fallback"
    (doc,) = result["facts"]
    assert procfs.check_document(doc) == []
    assert doc["collection_method"] == "local_fallback"
    assert doc["hostname"] == os.uname().nodename
    assert doc["errors"]["mpi"] == f"MPI collection failed: {reason}"
    assert doc["paths"][str(tmp_path)]["error"] is None  # the fallback still measures the paths
    assert sorted(result["missing"]) == ["h2", "h3"]
    (warning,) = result["warnings"]
    assert warning == (f"MPI collection failed ({reason}); collected only the launcher {os.uname().nodename} "
                       "(collection_method local_fallback); no facts from h2, h3")


def run_script(*args: str) -> subprocess.CompletedProcess:
    # -I -S: isolated, no site-packages, as bare as a client python gets; the script must still
    # find mlps_procfs.py next to itself.
    return subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, timeout=60)


def test_script_rejects_bad_arguments_in_one_line_each():
    proc = run_script("--path", "relative/dir", "--path-timeout", "0")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "mlps_mpi_collect: --path relative/dir: not absolute; give an absolute path such as /mnt/data",
        "mlps_mpi_collect: --path-timeout 0: expected seconds above 0, such as 5",
    ]


def test_script_without_mpi4py_says_which_python_to_use():
    proc = run_script("--path", "/tmp")
    assert proc.returncode == 2
    assert proc.stderr.startswith("mlps_mpi_collect: cannot import mpi4py (")
    assert "run this with the client venv's python" in proc.stderr and "Traceback" not in proc.stderr


# -- the module, through ansible ------------------------------------------------------------------


def ansible(module_args: dict, *extra: str) -> tuple[str, dict, str]:
    return run_module("mlps_mpi_facts", module_args, *extra)


@pytest.mark.integration
def test_module_reads_the_gathered_facts_and_removes_the_file(live_doc, tmp_path):
    output = tmp_path / "out.txt"
    output.write_text(gathered([live_doc]))
    status, result, _ = ansible({"output": str(output), "hosts": ["localhost"]})
    assert status == "SUCCESS", result
    assert result["collection_method"] == "mpi"
    assert result["facts"][0]["machine_id"] == live_doc["machine_id"]
    assert not output.exists()


@pytest.mark.integration
def test_module_falls_back_with_a_warning_and_keeps_the_file_in_check_mode(tmp_path):
    output = tmp_path / "out.txt"
    output.write_text("no marker here\n")
    status, result, stderr = ansible({"output": str(output), "launch_error": "mpirun passed its timeout of 60 s",
                              "hosts": ["localhost", "h2"]}, "--check")
    assert status == "SUCCESS", result
    assert result["collection_method"] == "local_fallback"
    assert result["missing"] == {"h2": "not collected: the MPI collection failed and fell back to the launcher"}
    assert "[WARNING]: MPI collection failed (mpirun passed its timeout of 60 s); collected only" in stderr
    assert output.exists()


@pytest.mark.integration
def test_module_rejects_bad_arguments():
    status, result, _ = ansible({"output": "/tmp/x", "hosts": [], "paths": ["rel"]})
    assert status == "FAILED!"
    assert result["msg"] == ("hosts is empty: pass the hosts the launch covered, the launcher first; "
                             "paths: 'rel' is not absolute; give an absolute path such as /mnt/data")
