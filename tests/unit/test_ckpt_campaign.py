"""mlps.campaign.checkpointing: engine choice, the plan's pre-I/O checks (ranks, hosts, room), the
invocation shapes, DLIO's and the native engine's command lines, leaves, metadata and configs, and one
invocation's controller side (start_invocation, end_invocation)."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
import yaml

from mlps.campaign import checkpointing as cc
from mlps.campaign import frame
from mlps.errors import UserError
from mlps.plan.checkpoint import plan_checkpoint
from mlps.results.reader import read_tree
from mlps_module_utils import mlps_ckpt_native as native
from mlps_module_utils import mlps_dlio_progress as progress
from tests.archives import make_tar

GIB = 2**30
DLIO_200 = {"dlio_version": "2.0.0", "config_keys": [], "packaged_llama_configs": []}
DLIO_MLC = {"dlio_version": "2.0.0.post1", "config_keys": ["num_checkpoints_read", "num_checkpoints_write"]}
RANK_8B = 2_007_565_312 + 12_045_637_632           # DLIO's base_checkpointing.py: every llama3-8b rank per checkpoint


def probe(free=10 * 2**40, memory=16 * GIB, cpus=64, fs=None):
    return {"free_bytes": free, "fs_key": fs, "memory_bytes": memory, "cpus": cpus}


def plan(**kw):
    args = {"model": "llama3-8b", "processes": 8, "hosts": ["h1", "h2"], "scale": 1.0, "engine": "auto",
            "host_probes": {"h1": probe(fs=[1]), "h2": probe(fs=[2])}, "dlio_probe": DLIO_MLC,
            "folder": "/ckpt/llama3-8b", "results_dir": "/r", "division": "closed"}
    args.update(kw)
    return cc.plan_campaign(**args)


# --- engine ----------------------------------------------------------------------------------------
def test_dlio_2_0_0_lacks_the_checkpoint_workload():
    usable, why = cc.dlio_has_checkpoint_workload(DLIO_200)
    assert usable is False
    assert "2.0.0" in why and "num_checkpoints_write" in why


def test_a_dlio_that_knows_the_counts_has_it():
    assert cc.dlio_has_checkpoint_workload(DLIO_MLC)[0] is True


def test_no_dlio_at_all_is_not_usable():
    usable, why = cc.dlio_has_checkpoint_workload({"dlio_version": None, "error": "ModuleNotFoundError: x"})
    assert not usable and "ModuleNotFoundError" in why


def test_auto_picks_native_when_dlio_lacks_it_and_dlio_when_it_has_it():
    assert cc.resolve_engine("auto", DLIO_200)[0] == "native"
    assert cc.resolve_engine("auto", DLIO_MLC)[0] == "dlio"
    assert cc.resolve_engine("native", DLIO_MLC)[0] == "native"


def test_forced_dlio_without_the_workload_says_why_and_what_to_do():
    with pytest.raises(UserError, match=r"mlps_checkpointing_engine=dlio: the installed DLIO 2\.0\.0 has no "
                                        r"checkpoint-only workload.*native"):
        cc.resolve_engine("dlio", DLIO_200)


def test_unknown_engine_is_refused():
    with pytest.raises(UserError, match="expected one of auto, dlio, native"):
        cc.resolve_engine("fast", DLIO_MLC)


# --- the plan and its bad inputs ---------------------------------------------------------------------
def test_closed_8b_plan_on_two_hosts():
    out = plan()
    assert out["engine"] == "dlio" and out["processes"] == 8 and out["ranks_per_host"] == {"h1": 4, "h2": 4}
    assert out["bytes_per_checkpoint"] == 8 * RANK_8B
    assert out["bytes_per_host"] == {"h1": 4 * RANK_8B, "h2": 4 * RANK_8B}
    assert out["division_expected"] == "closed"
    # 52 GiB per host per checkpoint > 3 x 16 GiB: no cache drop, one invocation
    assert out["cache_drop_required"] is False
    assert [i["name"] for i in out["invocations"]] == ["both"]
    assert out["workload_dir"] == "/r/closed/mlps/results/mlps-system/checkpointing/llama3-8b"


def test_processes_zero_means_the_closed_count():
    assert plan(processes=0)["processes"] == 8


def test_a_process_count_the_parallelism_cannot_use_names_the_numbers():
    with pytest.raises(UserError, match=r"llama3-70b with 12 processes: the count must be a multiple of TP x PP "
                                        r"= 8 x 1 = 8 \(e\.g\. 8 or 16\)"):
        plan(model="llama3-70b", processes=12)


def test_too_few_hosts_for_the_ranks():
    probes = {"h1": probe(cpus=2), "h2": probe(cpus=2)}
    with pytest.raises(UserError, match=r"8 processes on 2 host\(s\): too few hosts for the ranks: h1 would run 4 "
                                        r"\(limit 2\); h2 would run 4 \(limit 2\).*at least 4 hosts"):
        plan(host_probes=probes)


def test_an_explicit_rank_limit_wins_over_the_cpu_count():
    probes = {"h1": probe(cpus=2), "h2": probe(cpus=2)}
    assert plan(host_probes=probes, max_ranks_per_host=4)["placement"][0] == {"host": "h1", "ranks": 4, "limit": 4}
    with pytest.raises(UserError, match="mlps_checkpointing_max_ranks_per_host=3"):
        plan(max_ranks_per_host=3)


def test_no_room_names_needed_and_free_bytes():
    need = 4 * RANK_8B * 10
    probes = {"h1": probe(free=need - 1, fs=[1]), "h2": probe(free=need, fs=[2])}
    with pytest.raises(UserError) as info:
        plan(host_probes=probes)
    text = str(info.value)
    assert f"h1: {need} bytes" in text and f"{need - 1} bytes" in text and "h2" not in text.split(":", 2)[2]
    assert "lower mlps_checkpointing_scale" in text


def test_a_shared_filesystem_must_hold_every_hosts_bytes():
    need_one = 4 * RANK_8B * 10
    shared = {"h1": probe(free=need_one + 1, fs=[7]), "h2": probe(free=need_one + 1, fs=[7])}
    with pytest.raises(UserError, match=f"h1, h2: {2 * need_one} bytes"):
        plan(host_probes=shared)
    separate = {"h1": probe(free=need_one + 1, fs=[7]), "h2": probe(free=need_one + 1, fs=[8])}
    assert plan(host_probes=separate)["room"][0]["need_bytes"] == need_one


def test_reads_only_need_no_room():
    out = plan(host_probes={"h1": probe(free=0), "h2": probe(free=0)}, writes=0, reads=10)
    assert out["room"] == [] and [i["name"] for i in out["invocations"]] == ["read"]


def test_unknown_free_space_stops_the_plan():
    with pytest.raises(UserError, match=r"/ckpt/llama3-8b on h2: its free space is unknown \(h2: Permission"):
        plan(host_probes={"h1": probe(), "h2": {"free_bytes": None, "error": "h2: Permission denied"}})


def test_scaled_dlio_run_is_refused():
    with pytest.raises(UserError, match="DLIO has no size scale"):
        plan(engine="dlio", scale=0.5)


def test_scaled_native_run_is_open_and_splits_for_the_cache():
    out = plan(engine="auto", dlio_probe=DLIO_200, scale=0.001, processes=4, hosts=["h1"],
               host_probes={"h1": probe()})
    assert out["engine"] == "native" and out["division_expected"] == "open"
    assert out["record"] == {"engine": "native", "size_scale": 0.001, "checkpoint_mode": "default",
                             "checkpoint_plan_bytes": out["bytes_per_checkpoint"]}
    assert out["cache_drop_hosts"] == ["h1"]
    assert [(i["name"], i["writes"], i["reads"], i["drop_before"]) for i in out["invocations"]] == \
        [("write", 10, 0, False), ("read", 0, 10, True)]


@pytest.mark.parametrize(("writes", "reads", "split", "drop", "names"), [
    (10, 10, "auto", False, ["both"]), (10, 10, "auto", True, ["write", "read"]),
    (10, 10, "always", False, ["write", "read"]), (10, 10, "never", True, ["both"]),
    (10, 0, "always", True, ["write"]), (0, 10, "auto", True, ["read"]),
])
def test_invocation_shapes(writes, reads, split, drop, names):
    assert [i["name"] for i in cc.invocations(writes, reads, split, drop)] == names


@pytest.mark.parametrize(("writes", "reads", "split", "message"), [
    (0, 0, "auto", "nothing to do"), (5, 10, "auto", "read at most as many"), (10, 10, "x", "auto, always, never"),
])
def test_bad_invocation_settings(writes, reads, split, message):
    with pytest.raises(UserError, match=message):
        cc.invocations(writes, reads, split, False)


@pytest.mark.parametrize("value", ["-1", "ten", True, None])
def test_bad_counts_name_the_variable(value):
    with pytest.raises(UserError, match="mlps_checkpointing_num_checkpoints_write="):
        plan(writes=value)


def test_preflight_bytes_follow_scale_and_subset():
    assert cc.preflight_bytes("llama3-8b", 8, writes=10) == 10 * 8 * RANK_8B
    assert cc.preflight_bytes("llama3-8b", 0, scale=0.5, writes=1) == plan_checkpoint("llama3-8b", 8,
                                                                                       scale=0.5).total_bytes
    subset = cc.preflight_bytes("llama3-70b", 8, subset=True, writes=1)
    assert subset == plan_checkpoint("llama3-70b", 8, subset=True).total_bytes < 911 * GIB


def test_folder_probes_pick_the_checkpoint_folder():
    raw = {"h1": {"hostname": "n1", "cpus": 4, "memory_bytes": 8, "paths": {
        "/c": {"free_bytes": 5, "fs_key": [1, 2, 3], "dev": 9}, "/s": {"free_bytes": 1}}}, "h2": "garbage"}
    out = cc.folder_probes(raw, "/c")
    assert out["h1"] == {"free_bytes": 5, "fs_key": [1, 2, 3], "dev": 9, "memory_bytes": 8, "cpus": 4,
                         "hostname": "n1", "error": None}
    assert out["h2"]["free_bytes"] is None and "garbage" in out["h2"]["error"]


# --- command lines -----------------------------------------------------------------------------------
def test_dlio_argv_sets_only_folder_and_counts_for_a_closed_run():
    campaign = plan()
    argv, overrides = cc.dlio_command(dlio="/v/bin/dlio_benchmark", config_dir="/s/configs/checkpointing",
                                      plan=campaign, invocation=campaign["invocations"][0],
                                      folder="/ckpt/llama3-8b", output_folder="/s/both/out", time_between=5)
    assert argv == ["/v/bin/dlio_benchmark", "--config-path", "/s/configs/checkpointing", "workload=llama3_8b",
                    "++workload.checkpoint.checkpoint_folder=/ckpt/llama3-8b",
                    "++workload.checkpoint.num_checkpoints_write=10", "++workload.checkpoint.num_checkpoints_read=10",
                    "++workload.output.folder=/s/both/out", "hydra.run.dir=/s/both/out"]
    assert overrides["checkpoint.num_checkpoints_read"] == "10"


def test_dlio_argv_of_subset_mode_and_a_changed_interval():
    campaign = plan(model="llama3-70b", processes=8, subset=True)
    invocation = {"name": "write", "writes": 10, "reads": 0}
    argv, _ = cc.dlio_command(dlio="d", config_dir="c", plan=campaign, invocation=invocation, folder="/f",
                              output_folder="/o", time_between=1)
    assert "workload=llama3_70b" in argv
    assert {"++workload.checkpoint.mode=subset", "++workload.model.parallelism.data=8",
            "++workload.checkpoint.num_checkpoints_read=0",
            "++workload.checkpoint.time_between_checkpoints=1"} <= set(argv)


def test_native_argv():
    campaign = plan(engine="native", scale=0.01)
    argv, overrides = cc.native_command(python="/v/bin/python", engine="/s/e.py", plan_file="/s/plan.json",
                                        plan=campaign, invocation={"writes": 10, "reads": 0}, folder="/f",
                                        output_folder="/s/w/out", transfer_size="1MiB", odirect=True, fsync=True,
                                        time_between=0)
    assert argv == ["/v/bin/python", "/s/e.py", "--plan", "/s/plan.json", "--folder", "/f", "--output-folder",
                    "/s/w/out", "--writes", "10", "--reads", "0", "--transfer-size", "1MiB",
                    "--time-between-checkpoints", "0", "--log", "/s/w/out/dlio.log", "--fsync", "--odirect"]
    assert overrides["checkpoint.time_between_checkpoints"] == "0"
    with pytest.raises(UserError, match="expected 0 or more seconds"):
        cc.native_command(python="p", engine="e", plan_file="f", plan=campaign, invocation={"writes": 1, "reads": 0},
                          folder="/f", output_folder="/o", time_between=-1)


def test_native_configs_read_back_as_the_rules_read_dlio_configs(tmp_path):
    campaign = plan(engine="native", scale=0.01, processes=8)
    invocation = {"name": "read", "writes": 0, "reads": 10}
    argv, overrides = cc.native_command(python="p", engine="e", plan_file="f", plan=campaign, invocation=invocation,
                                        folder="/ckpt/x", output_folder="/o", time_between=5)
    leaf = tmp_path / "open" / "o" / "results" / "s" / "checkpointing" / "llama3-8b" / "20260101_000000"
    leaf.mkdir(parents=True)
    assert cc.write_configs(leaf, cc.native_configs(campaign, invocation, overrides, True, argv)) == \
        ["config.yaml", "hydra.yaml", "overrides.yaml"]
    config = yaml.safe_load((leaf / "dlio_config" / "config.yaml").read_text())["workload"]
    assert config["checkpoint"] == {"checkpoint_folder": "/ckpt/x", "mode": "default", "time_between_checkpoints": 5,
                                    "num_checkpoints_write": 0, "num_checkpoints_read": 10, "fsync": True}
    (read,) = [lf for wl in read_tree(tmp_path).workloads for lf in wl.leaves]
    assert read.param("checkpoint.num_checkpoints_read") == 10 and read.param("checkpoint.fsync") is True
    assert read.overrides[0] == "workload=llama3_8b"


# --- leaves and metadata -----------------------------------------------------------------------------
def test_workload_dir_checks_names():
    assert str(cc.workload_dir("/r", "open", "acme", "sys1", "llama3-8b")) == \
        "/r/open/acme/results/sys1/checkpointing/llama3-8b"
    with pytest.raises(UserError, match="mlps_checkpointing_system='a/b'"):
        cc.workload_dir("/r", "open", "acme", "a/b", "llama3-8b")
    with pytest.raises(UserError, match="expected closed or open"):
        cc.workload_dir("/r", "whatif", "acme", "s", "llama3-8b")


def test_leaves_sit_in_the_workload_folder_and_never_reuse_a_name(tmp_path):
    # frame.allocate_leaf with no command: the checkpointing layout has no command segment
    clock = iter([datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.datetime(2026, 1, 2, 3, 4, 5, 900000),
                  datetime.datetime(2026, 1, 2, 3, 4, 6)])
    first, stamp = frame.allocate_leaf(tmp_path, None, clock=lambda: next(clock))
    second, stamp2 = frame.allocate_leaf(tmp_path, None, clock=lambda: next(clock), sleep=lambda s: None)
    assert (first, stamp) == (tmp_path / "20260102_030405", "20260102_030405")
    assert stamp2 == "20260102_030406" and second.parent == tmp_path


def test_metadata_is_merged_under_the_checkpointing_name(tmp_path):
    frame.update_metadata(tmp_path, "20260101_000000", {"status": "running", "engine": "native"}, cc.BENCHMARK)
    meta = frame.update_metadata(tmp_path, "20260101_000000", {"status": "completed"}, cc.BENCHMARK)
    stored = json.loads((tmp_path / "checkpointing_20260101_000000_metadata.json").read_text())
    assert stored == meta and meta["status"] == "completed" and meta["engine"] == "native"
    assert meta["schema"] == cc.METADATA_SCHEMA == "mlps-checkpointing-metadata/1"
    assert not (tmp_path / "training_20260101_000000_metadata.json").exists()
    with pytest.raises(UserError, match="status 'done'"):
        frame.update_metadata(tmp_path, "20260101_000000", {"status": "done"}, cc.BENCHMARK)


def test_a_leaf_left_running_is_closed_under_its_own_benchmark_name(tmp_path):
    # what callback_plugins/mlps_leaves.py calls at exit, without knowing the benchmark
    frame.update_metadata(tmp_path, "20260101_000000", {"status": "running"}, cc.BENCHMARK)
    assert frame.close_if_running(tmp_path, "20260101_000000", "interrupted", "stopped")
    meta = json.loads((tmp_path / "checkpointing_20260101_000000_metadata.json").read_text())
    assert (meta["status"], meta["message"]) == ("interrupted", "stopped")
    assert not frame.close_if_running(tmp_path, "20260101_000000", "failed", "again")   # not running now
    assert not frame.close_if_running(tmp_path, "20990101_000000", "failed", "no such leaf")


MPI = {"mpirun": "/v/bin/mpirun", "implementation": "openmpi", "hosts": ["h1", "h2"], "as_root": True,
       "rsh_agent": None, "prefix": "/v", "mca": {}, "env": ["TOKEN"]}
ENGINE = {"python": "/v/bin/python", "engine_file": "/s/e.py", "plan_file": "/s/plan.json", "transfer_size": "4MiB",
          "odirect": False, "fsync": True, "time_between": 1.0, "dlio": "/v/bin/dlio_benchmark", "config_dir": "/s/c"}


def started(tmp_path, **kw):
    campaign_plan = plan(engine="native", scale=0.01, results_dir=str(tmp_path), division="open", **kw)
    (tmp_path / "cluster_info_start.json").write_text("{}")
    args = {"plan": campaign_plan, "invocation": campaign_plan["invocations"][0], "staging_dir": "/s",
            "engine": ENGINE, "mpi": MPI, "context": {"versions": {"mpi": "x"}}, "files": {"fs_separation.json": {}},
            "copies": {"cluster_info.json": str(tmp_path / "cluster_info_start.json"), "preflight.json": "/nope"}}
    return campaign_plan, cc.start_invocation(**args)


def test_start_records_the_leaf_as_running_with_the_exact_commands(tmp_path):
    campaign_plan, names = started(tmp_path)
    leaf = Path(names["leaf"])
    assert leaf.parent == Path(campaign_plan["workload_dir"]) and names["stamp"] == leaf.name
    # the stamp plus a random part: campaigns started in the same second never share a stage
    assert re.fullmatch(rf"/s/{campaign_plan['invocations'][0]['name']}-{leaf.name}-[0-9a-f]{{8}}", names["stage"])
    assert names["marker"] == names["stage"] + "/dlio" and names["log"] == names["marker"] + "/dlio.log"
    assert names["marker"] in names["engine_argv"] and names["changed"] is True
    assert names["cmd"][0] == "/v/bin/mpirun" and names["cmd"][-len(names["engine_argv"]):] == names["engine_argv"]
    assert "TOKEN" in names["cmd"] and "--allow-run-as-root" in names["cmd"]
    meta = json.loads((leaf / f"checkpointing_{leaf.name}_metadata.json").read_text())
    assert (meta["status"], meta["engine"], meta["size_scale"], meta["schema"]) == \
        ("running", "native", 0.01, "mlps-checkpointing-metadata/1")
    assert meta["ranks_per_host"] == {"h1": 4, "h2": 4} and meta["argv"] == names["cmd"]
    assert meta["timeseries"] == f"checkpointing_{leaf.name}_timeseries" and meta["drop_caches"] == "not dropped"
    assert meta["versions"] == {"mpi": "x"} and meta["cluster_info"] == "cluster_info.json"
    assert {p.name for p in leaf.iterdir()} == {f"checkpointing_{leaf.name}_metadata.json", "fs_separation.json",
                                                 "cluster_info.json", "dlio_config", "provenance.json"}


def test_start_in_check_mode_writes_nothing(tmp_path):
    campaign_plan = plan(engine="native", scale=0.01, results_dir=str(tmp_path), division="open")
    names = cc.start_invocation(plan=campaign_plan, invocation=campaign_plan["invocations"][0], staging_dir="/s",
                                engine=ENGINE, mpi=MPI, context={}, files={"x.json": {}}, copies={}, check=True)
    assert names["changed"] is False and names["stamp"] == "YYYYMMDD_HHMMSS" and names["cmd"]
    assert not any(tmp_path.rglob("*.json"))


def test_end_unpacks_the_launchers_copy_last_and_records_the_launch(tmp_path):
    _plan, names = started(tmp_path)
    leaf = Path(names["leaf"])
    archives = {"h1": make_tar(tmp_path / "h1.tar", {"dlio/summary.json": "launcher", "timeseries/h1.jsonl": "{}\n"}),
                "h2": make_tar(tmp_path / "h2.tar", {"dlio/summary.json": "other", "timeseries/h2.jsonl": "{}\n"})}
    job = {"rc": 0, "start": "2026-01-01T00:00:00", "end": "2026-01-01T00:00:09", "delta": "9.5", "finished": True}
    ended = cc.end_invocation(leaf=leaf, stamp=names["stamp"], label="write", hosts=["h1", "h2"], launcher="h1",
                              archives=archives, job=job, waited={"waited": 9.7, "progress": {"writes_done": 10}},
                              samples={"h1": 9, "h2": 8}, unreachable=[])
    assert ended["status"] == "completed" and (leaf / "summary.json").read_text() == "launcher"
    assert sorted(p.name for p in (leaf / f"checkpointing_{leaf.name}_timeseries").iterdir()) == ["h1.jsonl",
                                                                                                   "h2.jsonl"]
    assert not any(Path(a).exists() for a in archives.values())
    meta = json.loads((leaf / f"checkpointing_{leaf.name}_metadata.json").read_text())
    assert (meta["invocation_start_time"], meta["invocation_end_time"]) == (job["start"], job["end"])
    assert meta["timings"]["mpirun_seconds"] == 9.5 and meta["progress"] == {"writes_done": 10}
    assert meta["timeseries_hosts"] == {"h1": 9, "h2": 8} and "failure" not in meta


def test_end_fails_an_invocation_whose_archive_is_refused(tmp_path):
    _plan, names = started(tmp_path)
    leaf = Path(names["leaf"])
    forged = make_tar(leaf / ".incoming-h2.tar", {"dlio/summary.json": "other", "dlio/preflight.json": "{}"})
    good = make_tar(leaf / ".incoming-h1.tar", {"dlio/summary.json": "launcher", "timeseries/h1.jsonl": "{}\n"})
    ended = cc.end_invocation(leaf=leaf, stamp=names["stamp"], label="write", hosts=["h1", "h2"], launcher="h1",
                              archives={"h1": good, "h2": forged}, job={"rc": 0, "finished": True}, waited={},
                              samples={}, unreachable=[])
    assert ended["status"] == "failed" and ended["message"].startswith("write invocation failed on h2: archive "
                                                                       "from h2 refused: member 'dlio/preflight.json'")
    meta = json.loads((leaf / f"checkpointing_{leaf.name}_metadata.json").read_text())
    assert meta["status"] == "failed" and meta["failure"]["hosts"] == ["h2"] and "h2" in meta["refused_archives"]
    assert not (leaf / "preflight.json").exists() and (leaf / "summary.json").read_text() == "launcher"
    assert not list(leaf.glob(".incoming-*"))


@pytest.mark.parametrize(("job", "unreachable", "status", "culprit"), [
    ({"rc": 1, "msg": "rank 3 died", "failed": True}, [], "failed", "h1"),
    ({"rc": -15, "timed_out": True, "msg": "timed out after 300 s"}, [], "timed_out", "h1"),
    ({"rc": -15, "failed": True, "lost_hosts": ["h2"], "msg": "h2 stopped answering"}, [], "failed", "h2"),
    ({"rc": -15, "interrupted": True, "msg": "lease expired"}, [], "interrupted", "h1"),
    ({}, ["h2"], "failed", "h2"),
])
def test_end_names_the_host_and_the_invocation_of_a_failure(tmp_path, job, unreachable, status, culprit):
    _plan, names = started(tmp_path)
    ended = cc.end_invocation(leaf=names["leaf"], stamp=names["stamp"], label="write", hosts=["h1", "h2"],
                              launcher="h1", archives={}, job=job, waited={}, samples={}, unreachable=unreachable)
    assert ended["status"] == status and ended["message"].startswith(f"write invocation {status} on {culprit}")
    meta = json.loads((Path(names["leaf"]) / f"checkpointing_{names['stamp']}_metadata.json").read_text())
    assert meta["failure"]["hosts"] == [culprit] and meta["missing_hosts"] == ["h1", "h2"]


def test_results_json_from_leaves(tmp_path):
    workload = tmp_path / "open" / "o" / "results" / "s" / "checkpointing" / "llama3-8b"
    for name, metric in (("20260101_000000", {"save_checkpoint_io_mean_GB_per_second": 2.0,
                                              "save_checkpoint_duration_mean_seconds": 4.0}),
                         ("20260101_000010", {"load_checkpoint_io_mean_GB_per_second": 8.0,
                                              "load_checkpoint_duration_mean_seconds": 1.0})):
        (workload / name).mkdir(parents=True)
        (workload / name / "summary.json").write_text(json.dumps(
            {"num_accelerators": 4, "num_hosts": 1, "metric": {**metric, "checkpoint_size_GB": 8.0}}))
    document = cc.write_results_json(workload)
    assert document["runs"] == ["20260101_000000", "20260101_000010"]
    assert (document["results"]["write_bw_GiB_per_second"], document["results"]["read_bw_GiB_per_second"]) == (2, 8)
    assert json.loads((workload / "results.json").read_text()) == document
    with pytest.raises(UserError, match="no checkpointing leaves"):
        (tmp_path / "empty").mkdir()
        cc.write_results_json(tmp_path / "empty")


# --- progress of the native engine's log (module_utils/mlps_dlio_progress reads it for mlps_phase_wait) ----
def test_the_native_engines_log_reads_as_checkpoint_progress(tmp_path):
    path = tmp_path / "dlio.log"
    log = native.Log(str(path), True)
    log.line("llama3-8b 4 ranks on 1 hosts: 2 writes, 2 reads of 1468006 bytes per checkpoint")
    log.line("save_ckpt 1/2 done: 0.100 s, 1.000 GiB/s (slowest rank 3)")
    state, offset = progress.read_progress(str(path))
    figures = progress.summarize(state)
    assert (figures["phase"], figures["ranks"], figures["writes_done"], figures["reads"]) == ("checkpointing", 4, 1, 2)
    assert figures["fraction"] == 0.25 and figures["text"].startswith("writes 1/2, reads 0/2 (25%)")
    for line in ("save_ckpt 2/2 done: 0.1 s", "load_ckpt 1/2 done: 0.1 s", "load_ckpt 2/2 done: 0.1 s",
                 "checkpointing done: 2 writes, 2 reads"):
        log.line(line)
    state, _ = progress.read_progress(str(path), offset, state)
    figures = progress.summarize(state)
    assert (figures["phase"], figures["done"], figures["reads_done"]) == ("done", True, 2)
    assert figures["text"].startswith("checkpointing done: writes 2/2, reads 2/2")
