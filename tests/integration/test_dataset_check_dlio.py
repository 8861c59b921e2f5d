"""The datagen-skip check against what DLIO 2.0.0 really writes: a tiny npz datagen with subfolders and
eval files (2 ranks under mpirun, client venv from setup.yml), checked through the Ansible module, then
broken one file at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlps_module_utils import mlps_dataset as ds
from tests.integration.test_dlio_tiny import dlio_argv, run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAN = {"num_files_train": 12, "num_subfolders_train": 3, "num_files_eval": 2, "record_length": 262144,
        "record_length_stdev": 0, "format": "npz"}


def module(data: Path, **changes) -> dict:
    args = {"data_folder": str(data), **PLAN, **changes}
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"),
         "-m", "mlps_dataset_check", "-a", json.dumps(args)],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                 ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}"))
    head, sep, body = proc.stdout.partition(" => ")
    assert sep and "SUCCESS" in head, f"{proc.stdout}\n{proc.stderr}"
    return json.loads(body)


@pytest.fixture(scope="module")
def generated(client_venv: Path, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("dataset_check")
    data = work / "data"
    overrides = [f"++workload.dataset.data_folder={data}",
                 *(f"++workload.dataset.{key}={PLAN[key]}" for key in
                   ("num_files_train", "num_subfolders_train", "num_files_eval", "record_length",
                    "record_length_stdev")),
                 f"++workload.checkpoint.checkpoint_folder={work / 'checkpoints'}"]
    venv_bin = client_venv / "bin"
    run(dlio_argv(venv_bin, 2, "unet3d_datagen", work / "datagen", overrides), venv_bin, work)
    return data


def test_real_datagen_has_the_layout_the_check_expects(generated):
    written = sorted(str(p.relative_to(generated)) for p in generated.rglob("*.npz"))
    expected = ds.expected_paths(12, 3, "npz") + ds.expected_paths(2, 0, "npz", split="valid")
    assert written == sorted(expected)
    low, high = ds.size_range("npz", 262144)
    assert all(low <= (generated / p).stat().st_size <= high for p in written)


def test_check_matches_then_catches_a_truncated_and_a_deleted_file(generated):
    result = module(generated)
    assert result["matches"] is True, result["reason"]
    assert result["reason"] == "found 14 of 14 files, sizes within expected range"
    assert result["changed"] is False and result["sample_sizes"]["min"] > 262144

    # a plan for a different dataset in the same folder does not match
    assert module(generated, num_files_train=13)["matches"] is False
    assert module(generated, record_length=524288)["matches"] is False

    victim = generated / "train" / "1" / "img_04_of_12.npz"
    size = victim.stat().st_size
    os.truncate(victim, size // 2)
    result = module(generated)
    assert result["matches"] is False and result["found_files"] == 14
    assert f"train/1/img_04_of_12.npz: {size // 2} bytes" in result["reason"]

    victim.unlink()
    result = module(generated)
    assert result["matches"] is False and result["found_files"] == 13
    assert result["reason"] == "found 13 of 14 files; 1 of 12 train files missing (e.g. train/1/img_04_of_12.npz)"
