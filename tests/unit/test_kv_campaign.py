"""mlps.campaign.kv_cache: the Options, the client layout, the checks that stop before any I/O
(memory, folders, engine), the run leaf, one trial's start (rank and mpirun argv) and end (which
ranks wrote results, partial trials naming rank and host)."""

from __future__ import annotations

import json

import pytest

from mlps.campaign import frame
from mlps.campaign import kv_cache as kv
from mlps.errors import UserError
from tests.archives import make_tar

GIB = 2**30
MPI = {"mpirun": "/v/bin/mpirun", "implementation": "openmpi", "hosts": ["h1", "h2"], "as_root": True}
ENGINE = {"python": "/v/bin/python", "engine_file": "/stage/mlps_kvcache.py"}


def probe(cache_dev=1, stage_dev=2, memory=256 * GIB, is_dir=True, writable=True, error=None):
    cache = {"free_bytes": 10 * 2**40, "dev": cache_dev, "probed": "/mnt/kv", "is_dir": is_dir,
             "writable": writable}
    if error:
        cache = {"free_bytes": None, "error": error}
    return {"memory_bytes": memory, "cpus": 8,
            "paths": {"/mnt/kv": cache, "/stage": {"free_bytes": 2**40, "dev": stage_dev, "probed": "/stage"}}}


def plan(tmp_path, **kw):
    args = {"options": "1,2,3", "hosts": ["h1", "h2"], "cache_dir": "/mnt/kv", "stage_root": "/stage",
            "host_probes": {"h1": probe(), "h2": probe()}, "results_dir": tmp_path / "results"}
    args.update(kw)
    return kv.plan_campaign(**args)


# --- Options and layout ----------------------------------------------------------------------------
def test_options_are_parsed_in_order_and_bad_ones_are_named():
    assert kv.parse_options("1,2,3") == [1, 2, 3]
    assert kv.parse_options([2, 3]) == [2, 3]
    with pytest.raises(UserError, match=r"option '4' is unknown"):
        kv.parse_options("1,4")
    with pytest.raises(UserError, match="ascending"):
        kv.parse_options("3,1")
    with pytest.raises(UserError, match="ascending"):
        kv.parse_options("1,1")


@pytest.mark.parametrize(("np", "per", "expected"), [(0, 0, (2, 1)), (6, 0, (6, 3)), (0, 2, (4, 2)), (4, 2, (4, 2))])
def test_client_layout_follows_the_rule_book(np, per, expected):
    assert kv.client_layout(["h1", "h2"], np, per) == expected


def test_client_layout_refuses_uneven_or_disagreeing_counts():
    with pytest.raises(UserError, match="does not split evenly over 2"):
        kv.client_layout(["h1", "h2"], 3, 0)
    with pytest.raises(UserError, match="disagree"):
        kv.client_layout(["h1", "h2"], 6, 2)


def test_option_parameters_are_table_kvcache_1_with_the_scale():
    assert kv.option_parameters(3) == {"model": "llama3.1-70b-instruct", "num_users": 70, "duration": 300,
                                       "gpu_mem_gb": 0, "cpu_mem_gb": 0, "max_concurrent_allocs": 4,
                                       "generation_mode": "none", "seed": 42}
    assert kv.option_parameters(2, duration_scale=0.01)["duration"] == 3
    with pytest.raises(UserError, match="mlps_kvcache_model='gpt-9'"):
        kv.option_parameters(1, model="gpt-9")


# --- checks before any I/O -------------------------------------------------------------------------
def test_more_concurrent_allocations_than_memory_stops_with_the_numbers(tmp_path):
    # Option 1: 16 allocations of up to 25,000 tokens x 131,072 bytes = 48.8 GiB + the noise buffer
    with pytest.raises(UserError, match=r"Option 1 on h1: 1 rank\(s\) x 16 concurrent allocations .* need 49\.1 GiB, "
                                        r"the host has 24\.0 GiB"):
        plan(tmp_path, host_probes={"h1": probe(memory=24 * GIB), "h2": probe()})
    small = plan(tmp_path, host_probes={"h1": probe(memory=24 * GIB), "h2": probe(memory=24 * GIB)},
                 size_scale=0.01)
    assert small["size_scale"] == 0.01


def test_a_cache_dir_that_cannot_be_created_stops(tmp_path):
    with pytest.raises(UserError, match=r"cache_dir=/mnt/kv cannot be created on h2: /mnt/kv is not a folder"):
        plan(tmp_path, host_probes={"h1": probe(), "h2": probe(is_dir=False, writable=False)})
    with pytest.raises(UserError, match="not a writable folder"):
        plan(tmp_path, host_probes={"h1": probe(writable=False), "h2": probe()})
    with pytest.raises(UserError, match="cannot be probed"):
        plan(tmp_path, host_probes={"h1": probe(error="/mnt: Permission denied"), "h2": probe()})


def test_the_cache_must_not_share_the_results_filesystem(tmp_path):
    with pytest.raises(UserError, match=r"same filesystem as the results \(h1: the staging folder /stage\).*§6\.4\.1"):
        plan(tmp_path, host_probes={"h1": probe(cache_dev=5, stage_dev=5), "h2": probe()})
    with pytest.raises(UserError, match=r"h2: the results folder /r"):
        plan(tmp_path, results_probe={"path": "/r", "dev": 1, "host": "h2"})
    assert plan(tmp_path, results_probe={"path": "/r", "dev": 1, "host": None})["fs_separation"]["same_filesystem"] \
        is False


def test_relative_cache_dir_and_bad_scales_stop(tmp_path):
    with pytest.raises(UserError, match="absolute path"):
        plan(tmp_path, cache_dir="kv")
    with pytest.raises(UserError, match=r"mlps_kvcache_duration_scale=0: expected a number in \(0, 1\]"):
        plan(tmp_path, duration_scale=0)
    with pytest.raises(UserError, match="mlps_kvcache_trials=0"):
        plan(tmp_path, trials=0)


def test_engine_choice(tmp_path):
    assert kv.resolve_engine("auto", "", None)[0] == "native"
    assert kv.resolve_engine("auto", "/opt/kv", {"is_file": True}) == ("mlcommons", "MLCommons' /opt/kv/kv-cache.py")
    with pytest.raises(UserError, match=r"/opt/kv/kv-cache\.py is not a file on the launcher"):
        kv.resolve_engine("mlcommons", "/opt/kv", {"is_file": False})
    with pytest.raises(UserError, match="expected one of auto, native, mlcommons"):
        kv.resolve_engine("fast", "", None)


def test_the_plan_lists_the_phases_and_why_it_is_open(tmp_path):
    p = plan(tmp_path, trials=2, inter_option_delay=1, duration_scale=0.01)
    assert [ph["label"] for ph in p["phases"]] == ["option_1/trial_1", "option_1/trial_2", "option_2/trial_1",
                                                    "option_2/trial_2", "option_3/trial_1", "option_3/trial_2"]
    assert [ph["delay_after"] for ph in p["phases"]] == [0, 1, 0, 1, 0, 0]
    assert p["division_expected"] == "open"
    text = "; ".join(p["open_reasons"])
    assert "KV-ENGINE" in text and "KV-SCALE" in text and "KV-LOCKS" in text and "KV-OPTIONS" not in text
    assert p["workload_dir"].endswith("closed/mlps/results/mlps-system/kv_cache/llama3.1-8b")


# --- the run leaf and one trial --------------------------------------------------------------------
@pytest.fixture
def run(tmp_path):
    p = plan(tmp_path, options="1", trials=1, duration_scale=0.01, size_scale=0.001)
    opened = kv.open_run(plan=p, context={"versions": {"numpy": "2"}}, files={}, copies={})
    return p, opened


def test_open_run_writes_running_metadata_with_every_options_parameters(run):
    _p, opened = run
    meta = frame.read_metadata(opened["leaf"], opened["stamp"], kv.BENCHMARK)
    assert opened["leaf"].endswith(f"kv_cache/llama3.1-8b/run/{opened['stamp']}")
    assert meta["status"] == "running" and meta["options"] == [1] and meta["engine"] == "native"
    assert meta["parameters"]["1"]["duration"] == 3 and meta["size_scale"] == 0.001
    assert meta["npernode"] == 1 and meta["num_processes"] == 2 and meta["host_count"] == 2
    assert opened["opens_leaf"] is True


def test_start_trial_builds_the_rank_and_mpirun_argv(run):
    p, opened = run
    started = kv.start_trial(plan=p, leaf=opened["leaf"], stamp=opened["stamp"], option=1, trial=1,
                             staging_dir="/stage", engine=ENGINE, mpi=MPI)
    argv = started["rank_argv"]
    assert argv[:2] == ["/v/bin/python", "/stage/mlps_kvcache.py"]
    pairs = dict(zip(argv[2::2], argv[3::2], strict=False))
    assert pairs["--num-users"] == "200" and pairs["--duration"] == "3" and pairs["--size-scale"] == "0.001"
    assert pairs["--results-dir"] == f"{started['output']}/option_1/trial_1"
    assert started["log"] == f"{started['output']}/option_1/trial_1/kvcache.log"
    assert started["cmd"][:3] == ["/v/bin/mpirun", "-np", "2"] and started["cmd"][-len(argv):] == argv
    meta = frame.read_metadata(opened["leaf"], opened["stamp"], kv.BENCHMARK)
    assert meta["trials"]["option_1/trial_1"]["status"] == "running"
    assert meta["status"] == "running"


def test_the_mlcommons_engine_hands_each_rank_to_kv_cache_py(tmp_path):
    p = plan(tmp_path, options="1", engine="mlcommons", mlcommons_dir="/opt/kv", mlcommons_probe={"is_file": True},
             host_probes={"h1": probe(), "h2": probe()})
    argv = kv.rank_command(p, p["parameters"]["1"], "/out", "/out/kvcache.log", "option_1/trial_1", ENGINE)
    assert argv[2:4] == ["--delegate", "/opt/kv/kv-cache.py"]
    assert "--size-scale" not in argv


def _rank_doc():
    return json.dumps({"summary": {"elapsed_time": 3.0}})


def test_end_trial_names_the_rank_and_host_that_wrote_nothing(run, tmp_path, monkeypatch):
    p, opened = run
    leaf = opened["leaf"]
    started = kv.start_trial(plan=p, leaf=leaf, stamp=opened["stamp"], option=1, trial=1, staging_dir="/stage",
                             engine=ENGINE, mpi=MPI)
    archives = {
        "h1": make_tar(tmp_path / "h1.tar", {
            "dlio/option_1/trial_1/rank_0/kvcache_results_20261202_070000.json": _rank_doc(),
            "dlio/option_1/trial_1/kvcache.log": "mlps-kvcache done\n", "timeseries/h1.jsonl": "{}\n"}),
        "h2": make_tar(tmp_path / "h2.tar", {
            "dlio/option_1/trial_1/rank_1/kvcache_failure_20261202_070000.json":
                json.dumps({"reason": "killed by signal 9"}), "timeseries/h2.jsonl": "{}\n"}),
    }
    writes = 0
    update = frame.update_metadata

    def counted(*args, **kwargs):
        nonlocal writes
        writes += 1
        return update(*args, **kwargs)

    monkeypatch.setattr(frame, "update_metadata", counted)
    ended = kv.end_trial(leaf=leaf, stamp=opened["stamp"], label="option_1/trial_1", placement=started["placement"],
                         hosts=["h1", "h2"], launcher="h1", archives=archives, job={"rc": 0}, waited={},
                         samples={"h1": 3, "h2": 3}, unreachable=[])
    assert writes == 1                          # the trial's record, ranks included, written once
    assert ended["partial"] is True and ended["go_on"] is True and ended["leaf_open"] is True
    assert ended["message"] == "option_1/trial_1 partial: no results from rank 1 on h2 (killed by signal 9)"
    meta = frame.read_metadata(leaf, opened["stamp"], kv.BENCHMARK)
    trial = meta["trials"]["option_1/trial_1"]
    assert trial["missing_ranks"] == [{"rank": 1, "host": "h2", "reason": "killed by signal 9"}]
    assert trial["ranks_done"] == [0] and trial["status"] == "failed"
    assert meta["status"] == "running"          # the run leaf stays open between trials
    series = f"kv_cache_{opened['stamp']}_timeseries/option_1/trial_1"
    assert (tmp_path / leaf / series / "h2.jsonl").is_file()


def test_a_rank_archive_with_a_foreign_file_is_refused(run, tmp_path):
    p, opened = run
    started = kv.start_trial(plan=p, leaf=opened["leaf"], stamp=opened["stamp"], option=1, trial=1,
                             staging_dir="/stage", engine=ENGINE, mpi=MPI)
    bad = make_tar(tmp_path / "h1.tar", {"dlio/option_1/trial_1/rank_0/kvcache_results_20261202_070000.json": "{}",
                                         "dlio/../../etc/cron.d/x": "boom"})
    ended = kv.end_trial(leaf=opened["leaf"], stamp=opened["stamp"], label="option_1/trial_1",
                         placement=started["placement"], hosts=["h1", "h2"], launcher="h1", archives={"h1": bad},
                         job={"rc": 0}, waited={}, samples={}, unreachable=[])
    assert ended["go_on"] is False and ended["status"] == "failed"
    meta = frame.read_metadata(opened["leaf"], opened["stamp"], kv.BENCHMARK)
    assert "archive from h1 refused" in meta["trials"]["option_1/trial_1"]["refused_archives"]["h1"]


def test_rank_hosts_follow_by_slot_mapping():
    assert kv.rank_hosts([["a", 2], ["b", 1]]) == {0: "a", 1: "a", 2: "b"}


def test_a_run_leaf_left_running_by_a_dead_campaign_is_marked_interrupted_by_the_next(tmp_path):
    p = plan(tmp_path, options="1", trials=1, duration_scale=0.01, size_scale=0.001)
    first = kv.open_run(plan=p, context={}, files={}, copies={})
    second = kv.open_run(plan=p, context={}, files={}, copies={})
    assert second["marked_interrupted"] == [first["leaf"]]
    old = frame.read_metadata(first["leaf"], first["stamp"], kv.BENCHMARK)
    assert old["status"] == "interrupted" and "ended without recording its end" in old["message"]
    assert frame.read_metadata(second["leaf"], second["stamp"], kv.BENCHMARK)["status"] == "running"
