"""TRAIN-DATASIZE planner: worked examples of rule book §3.1.2 to the byte, placement, and `mlps datasize`."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlps import cli
from mlps.cluster import build_cluster, write_cluster_info
from mlps.errors import UserError
from mlps.plan import datasize
from mlps.plan.datasize import (
    accepted_minimum,
    check_user_value,
    is_equal_split,
    memory_from_gib,
    num_subfolders_train,
    plan_datasize,
    split_accelerators,
    total_disk_bytes,
)
from mlps.rulebook.workloads import TRAINING_WORKLOADS, get_training_workload

GIB = 2**30
UNET_B200 = get_training_workload("unet3d", "b200")
RETINA_B200 = get_training_workload("retinanet", "b200")


# --- rule book §3.1.2 worked examples (one is a published v3.0 datasize leaf) ------------------

def test_retinanet_b200_real_datasize_leaf():
    plan = plan_datasize(RETINA_B200, 412_316_860_416, 40)
    assert plan.files_by_mem == pytest.approx(6_383_463.75, abs=0.01)
    assert plan.files_by_steps == 480_000
    assert plan.num_files_train == 6_383_464                       # ceil when planning
    assert plan.total_disk_bytes == 6_383_464 * 322_957
    # the published leaf floor-divided: 6 383 463 files, 2 061 584 060 091 bytes
    assert total_disk_bytes(6_383_463, RETINA_B200) == 2_061_584_060_091
    assert plan.num_subfolders_train == 638
    assert plan.dominant_term == "memory"


def test_unet3d_b200_two_hosts_256_gib_steps_dominate():
    plan = plan_datasize(UNET_B200, 2 * 256 * GIB, 16)
    assert plan.client_memory_bytes == 549_755_813_888
    assert round(plan.files_by_mem, 1) == 18_750.1
    assert plan.files_by_steps == 56_000
    assert plan.num_files_train == 56_000
    assert plan.total_disk_bytes == 8_209_635_168_000
    assert round(plan.total_disk_bytes / GIB, 1) == 7_645.8
    assert plan.dominant_term == "steps"


def test_unet3d_b200_eight_hosts_1_tib():
    plan = plan_datasize(UNET_B200, 8 * 2**40, 64)
    assert plan.client_memory_bytes == 8_796_093_022_208
    assert round(plan.files_by_mem, 1) == 300_001.9
    assert plan.files_by_steps == 224_000
    assert plan.num_files_train == 300_002
    assert plan.total_disk_bytes == 43_980_481_601_256
    assert plan.num_subfolders_train == 30


def test_unet3d_real_v3_run_measured_memory():
    plan = plan_datasize(UNET_B200, memory_from_gib(1478.87, 1), 8)
    assert plan.files_by_steps == 28_000
    assert plan.num_files_train == 54_159
    assert plan.num_files_train <= 55_500          # what the published run used
    assert check_user_value(plan, 55_500).ok


# --- rounding, tolerance, subfolders ---------------------------------------------------------------

def test_v3_trees_accept_ceil_minus_one_but_planning_does_not():
    plan = plan_datasize(RETINA_B200, 412_316_860_416, 40)
    assert accepted_minimum(plan.num_files_train, "3.0") == 6_383_463
    assert accepted_minimum(plan.num_files_train, "2.0") == 6_383_464
    assert check_user_value(plan, 6_383_463, rules_edition="3.0").ok
    below = check_user_value(plan, 6_383_463)
    assert not below.ok
    assert (below.rule_id, below.required, below.actual, below.accepted_minimum) == \
        ("TRAIN-DATASIZE", 6_383_464, 6_383_463, 6_383_464)
    assert "5x the total client host memory" in below.rule_text
    assert "6383463 is below the minimum 6383464" in below.message
    assert not check_user_value(plan, 6_383_462, rules_edition="3.0").ok


def test_check_result_is_plain_data_for_the_campaign():
    plan = plan_datasize(UNET_B200, 2 * 256 * GIB, 16)
    data = check_user_value(plan, 100).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is False and data["required"] == 56_000 and data["actual"] == 100


@pytest.mark.parametrize(("files", "subfolders"), [(1, 0), (10_000, 0), (10_001, 1), (19_999, 1),
                                                  (20_000, 2), (8_511_360, 851)])
def test_subfolders_one_per_ten_thousand_files(files, subfolders):
    assert num_subfolders_train(files) == subfolders


def test_fractional_record_length_is_exact_decimal():
    resnet = get_training_workload("resnet50", "h100")
    exact = 5 * Fraction(2**40) / (1251 * Fraction("114660.07"))
    assert datasize.files_by_memory(2**40, resnet) == exact
    plan = plan_datasize(resnet, 2**40, 8)
    assert plan.num_files_train == math.ceil(exact)
    assert plan.total_disk_bytes == math.floor(plan.num_files_train * 1251 * Fraction("114660.07"))


@given(memory=st.integers(min_value=1, max_value=2**50), accels=st.integers(min_value=1, max_value=4096),
       workload=st.sampled_from(sorted(TRAINING_WORKLOADS.values(), key=lambda w: w.name)))
def test_plan_is_the_smallest_count_meeting_both_terms(memory, accels, workload):
    plan = plan_datasize(workload, memory, accels)
    spf, rec = workload.num_samples_per_file, Fraction(str(workload.record_length_bytes))

    def meets(n):
        return n * spf * rec >= 5 * memory and n * spf >= 500 * accels * workload.batch_size

    assert meets(plan.num_files_train)
    assert not meets(plan.num_files_train - 1)


@pytest.mark.parametrize(("memory", "accels"), [(0, 8), (-5, 8), (GIB, 0), (GIB, -1), (GIB, True), (1.5, 8)])
def test_bad_plan_inputs_are_user_errors(memory, accels):
    with pytest.raises(UserError, match="must be a positive whole number"):
        plan_datasize(UNET_B200, memory, accels)


def test_memory_from_gib():
    assert memory_from_gib(256, 2) == 549_755_813_888
    assert memory_from_gib(0.5, 3) == 3 * GIB // 2
    for bad in (0, -1.0, float("nan"), float("inf"), "256"):
        with pytest.raises(UserError, match="client host memory must be a positive number of GiB"):
            memory_from_gib(bad, 2)
    with pytest.raises(UserError, match="number of client hosts"):
        memory_from_gib(256, 0)


# --- placement -------------------------------------------------------------------------------------

def test_split_gives_the_remainder_to_the_first_hosts():
    counts = split_accelerators(200, 6)
    assert counts == [34, 34, 33, 33, 33, 33]
    assert not is_equal_split(counts)
    assert split_accelerators(8, 2) == [4, 4]
    assert is_equal_split([4, 4])
    assert split_accelerators(3, 3) == [1, 1, 1]


def test_more_hosts_than_accelerators_cannot_be_placed():
    with pytest.raises(UserError, match="2 accelerators cannot be placed on 3 hosts"):
        split_accelerators(2, 3)


def test_host_memory_budget_per_accelerator():
    assert datasize.host_memory_needed(4) == 2 * GIB
    assert datasize.max_accelerators_for_memory(4 * GIB) == 8
    assert datasize.max_accelerators_for_memory(GIB // 2 - 1) == 0


# --- mlps datasize --------------------------------------------------------------------------------

ARGS = ["datasize", "--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "8"]


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_plan(capsys):
    code, out, err = run_cli(capsys, *ARGS, "--client-host-memory-gib", "256", "--num-client-hosts", "2")
    assert code == 0, err
    plan = plan_datasize(get_training_workload("unet3d", "h100"), 2 * 256 * GIB, 8)
    assert f"num_files_train       {plan.num_files_train} (steps dominates)" in out
    assert "files_by_mem          18750.12" in out
    assert f"total_disk_bytes      {plan.total_disk_bytes} " in out
    assert "per host [4, 4]" in out


def test_cli_json_is_the_plan(capsys):
    code, out, _ = run_cli(capsys, *ARGS, "--client-host-memory-gib", "256", "--num-client-hosts", "2", "--json")
    assert code == 0
    data = json.loads(out)
    expected = plan_datasize(get_training_workload("unet3d", "h100"), 2 * 256 * GIB, 8).to_dict()
    assert data["plan"] == expected
    assert data["accelerators_per_host"] == [4, 4] and data["equal_split"] is True
    assert data["memory_source"] == "declared"


def test_cli_warns_about_an_unequal_split(capsys):
    code, out, _ = run_cli(capsys, *ARGS[:-1], "7", "--client-host-memory-gib", "64", "--num-client-hosts", "2")
    assert code == 0
    assert "SYS-ACCEL-EQUAL" in out and "per host [4, 3]" in out


def test_cli_takes_measured_memory_from_cluster_info(capsys, tmp_path):
    facts = [{"schema": "mlps-host-facts/1", "hostname": f"h{i}", "machine_id": f"m{i}",
              "meminfo": {"MemTotal": (100 + i) * GIB}} for i in range(3)]
    # a second rank on h0 must not be counted again
    facts.append(dict(facts[0]))
    path = write_cluster_info(tmp_path / "cluster_info.json", build_cluster(facts))
    code, out, _ = run_cli(capsys, *ARGS, "--cluster-info", str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plan"]["client_memory_bytes"] == 303 * GIB
    assert data["num_client_hosts"] == 3
    assert data["memory_source"].startswith("measured")


def test_cli_check_below_minimum_exits_1(capsys):
    code, out, _ = run_cli(capsys, *ARGS, "--client-host-memory-gib", "256", "--num-client-hosts", "2",
                           "--num-files-train", "100")
    assert code == 1
    assert "BELOW MINIMUM: TRAIN-DATASIZE: num_files_train 100 is below the minimum 28000" in out


@pytest.mark.parametrize(("argv", "needle"), [
    (["--model", "bert", "--accelerator", "h100", "--num-accelerators", "8",
      "--client-host-memory-gib", "256", "--num-client-hosts", "2"], "unknown model 'bert'"),
    (["--model", "unet3d", "--accelerator", "v100", "--num-accelerators", "8",
      "--client-host-memory-gib", "256", "--num-client-hosts", "2"], "unknown accelerator 'v100'"),
    (["--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "0",
      "--client-host-memory-gib", "256", "--num-client-hosts", "2"], "--num-accelerators must be a positive"),
    (["--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "8",
      "--client-host-memory-gib", "-3", "--num-client-hosts", "2"], "client host memory must be a positive"),
    (["--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "8",
      "--client-host-memory-gib", "256", "--num-client-hosts", "0"], "number of client hosts must be"),
    (["--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "8"], "give --client-host-memory-gib"),
    (["--model", "unet3d", "--accelerator", "h100", "--num-accelerators", "8",
      "--cluster-info", "/nonexistent/cluster_info.json"], "no such cluster info file"),
])
def test_cli_bad_input_is_one_line(capsys, argv, needle):
    code, out, err = run_cli(capsys, "datasize", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and needle in err and err.startswith("mlps datasize: error: ")
    assert "Traceback" not in err


def test_cli_refuses_cluster_info_with_incomplete_memory(capsys, tmp_path):
    facts = [{"schema": "mlps-host-facts/1", "hostname": "h1", "machine_id": "m1", "meminfo": {},
              "errors": {"meminfo": "PermissionError: denied"}},
             {"schema": "mlps-host-facts/1", "hostname": "h2", "machine_id": "m2", "meminfo": {"MemTotal": GIB}}]
    path = write_cluster_info(tmp_path / "ci.json", build_cluster(facts))
    code, _, err = run_cli(capsys, *ARGS, "--cluster-info", str(path))
    assert code == 2 and "MemTotal unknown on h1" in err
