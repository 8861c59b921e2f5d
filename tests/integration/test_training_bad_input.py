"""Bad input to the training campaign on localhost: an unknown model or accelerator,
accelerators that cannot be placed, a results or data folder that cannot be written, and DLIO
failing - each stops with one clear message naming the cause and the host, and DLIO's own logs
stay in the leaf."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from tests.integration.playbook import run_playbook
from tests.integration.test_training import TINY
from tests.venvs import LOCAL_INVENTORY

pytestmark = pytest.mark.integration


@pytest.fixture
def shm_data():
    path = Path("/dev/shm") / f"mlps-bad-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def attempt(tmp_path, client_venv, data, **extra):
    extra_vars = {"mlps_results_dir": str(tmp_path / "results"), "mlps_data_dir": str(data),
                  "mlps_venv": str(client_venv), "mlps_training_system": "bad", **TINY,
                  "mlps_training_runs": 1, **extra}
    run = run_playbook("run_training.yml", LOCAL_INVENTORY, extra_vars, timeout=900)
    assert run.rc != 0
    return run, " | ".join(run.messages())


@pytest.mark.parametrize(("extra", "expected"), [
    ({"mlps_model": "nosuchmodel"}, "nosuchmodel"),
    ({"mlps_accelerator": "tpu9"}, "tpu9"),
    ({"mlps_training_accelerators_per_host": 0}, "accelerators"),
])
def test_an_impossible_workload_stops_before_anything_is_written(tmp_path, client_venv, shm_data, extra, expected):
    _run, message = attempt(tmp_path, client_venv, shm_data, **extra)
    assert expected in message and "localhost" in message, message
    assert not (tmp_path / "results" / "closed").exists()  # no leaf; only the preflight's probe ran
    assert (list(shm_data.iterdir()) if shm_data.exists() else []) == []  # and nothing in the data folder


def test_accelerators_the_memory_cannot_hold_are_refused_naming_the_host(tmp_path, client_venv, shm_data):
    # far more simulated accelerators than this host's memory can back (the preflight's memory check)
    _run, message = attempt(tmp_path, client_venv, shm_data, mlps_training_accelerators_per_host=4096,
                            mlps_training_num_files_train=4096)
    assert "localhost" in message and "accelerator" in message, message
    assert not (tmp_path / "results" / "closed").exists()


@pytest.mark.parametrize("which", ["mlps_results_dir", "mlps_data_dir"])
def test_a_folder_that_cannot_be_written_is_named_with_its_host(tmp_path, client_venv, shm_data, which):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    bad = blocker / "below"  # a path under a regular file can never be created
    extra = {which: str(bad)}
    _run, message = attempt(tmp_path, client_venv, shm_data, **extra)
    assert str(bad) in message and "localhost" in message, message


def test_dlio_failing_stops_the_campaign_and_its_logs_stay_in_the_leaf(tmp_path, client_venv, shm_data):
    # no dataset and datagen=never: every rank fails to find its files; the preflight is skipped
    # here, which every leaf records
    shm_data.mkdir()
    _run, message = attempt(tmp_path, client_venv, shm_data, mlps_training_datagen="never",
                            mlps_preflight_skip=True)
    workload = tmp_path / "results" / "closed" / "mlps" / "results" / "bad" / "training" / "unet3d"
    (leaf,) = sorted((workload / "run").iterdir())
    record = json.loads((leaf / f"training_{leaf.name}_metadata.json").read_text())
    assert record["status"] == "failed" and record["failure"]["phase"] == "run 1/1 (warm-up)"
    assert "localhost" in record["message"] and "run 1/1 (warm-up) failed" in message, message
    stderr = (leaf / "training_run.stderr.log").read_text()
    assert stderr.strip(), "DLIO's stderr is kept in the leaf"
    assert str(leaf) in message  # the message says where the logs are
    assert record["preflight"]["skipped"] is True and record["preflight"]["reason"]
