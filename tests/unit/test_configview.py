"""mlps.plan.configview and `mlps configview`: the template with every override applied."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from mlps.errors import UserError
from mlps.plan import configview


def test_overrides_are_applied_with_hydra_types_and_the_template_is_left_alone():
    before = configview.template("unet3d_h100")
    merged = configview.merged("unet3d_h100", {"reader.read_threads": "8", "train.computation_time": "0.01",
                                               "dataset.data_folder": "/data/unet3d", "reader.new_key": "True",
                                               "output.folder": "/stage/dlio"})
    assert merged["reader"]["read_threads"] == 8 and merged["train"]["computation_time"] == 0.01
    assert merged["dataset"]["data_folder"] == "/data/unet3d" and merged["reader"]["new_key"] is True
    assert merged["output"] == {"folder": "/stage/dlio"}  # a section the template lacks is created
    assert merged["reader"]["batch_size"] == 7  # untouched keys keep the template's value
    assert configview.template("unet3d_h100") == before


def test_an_unknown_workload_is_one_clear_error():
    with pytest.raises(UserError, match=r"no template .*configs/dlio/workload"):
        configview.merged("nope_h100", {})


def test_cli_prints_the_merged_yaml():
    done = subprocess.run([sys.executable, "-m", "mlps.cli", "configview", "--model", "resnet50",
                           "--accelerator", "h100", "--set", "reader.read_threads=16"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout)["workload"]
    assert shown["model"] == "resnet50" and shown["reader"]["read_threads"] == 16


def test_cli_refuses_a_hostile_override():
    done = subprocess.run([sys.executable, "-m", "mlps.cli", "configview", "--model", "unet3d",
                           "--accelerator", "h100", "--set", "reader.read_threads=$(id)"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "reader.read_threads" in done.stderr
