"""KV-* rules on synthetic KV-cache run leaves: a complete CLOSED leaf passes every rule; each rule
has a failing case of its own."""

from __future__ import annotations

import json

import pytest

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import all_rules
from mlps.rulebook.verify import verify
from tests.unit.kv_builder import STAMP, build_kv_leaf, edit_json, put, rank_doc

KV_RULES = sorted(rule.id for rule in all_rules() if rule.benchmarks == ("kv_cache",))


def found(result, rule_id, outcome=None):
    return [f for f in result.findings if f.rule_id == rule_id and (outcome is None or f.outcome == outcome)]


def kv_verdict(result) -> str:
    (workload,) = result.workloads
    return workload["verdict"]


def meta_path(leaf):
    return leaf / f"kv_cache_{STAMP}_metadata.json"


def test_every_kv_rule_is_registered():
    expected = ["KV-CLIENTS", "KV-CLOSED-IMMUTABLE", "KV-CPU-TIER", "KV-ENGINE", "KV-FS-SEPARATION", "KV-GATEWAY",
                "KV-ISOLATION", "KV-LEAF-METADATA", "KV-LOCKS", "KV-NO-AUTOSCALE", "KV-OPEN", "KV-OPTIONS",
                "KV-PARTIAL", "KV-SCALE", "KV-SHARED-RESULTS", "KV-SUMMARY"]
    assert expected == KV_RULES


def test_a_complete_closed_leaf_passes_every_kv_rule(tmp_path):
    build_kv_leaf(tmp_path)
    result = verify(tmp_path)
    assert kv_verdict(result) == "CLOSED", [f.line() for f in result.findings]
    for rule_id in KV_RULES:
        assert result.rules[rule_id]["evaluated"] == 1 and not found(result, rule_id), rule_id
    assert not found(result, "BENCH-UNCHECKED")
    aggregate = result.workloads[0]["aggregate"]
    assert aggregate["source"] == "rank files" and aggregate["client_nodes"] == 2


# --- KV-OPTIONS ----------------------------------------------------------------------------------------
def test_options_out_of_order_or_with_other_values_are_open_or_invalid(tmp_path):
    """§6.6.2: OPEN may change users, duration, tiers, model and generation mode (a CLOSED-folder run that
    did is OPEN); it may not change the concurrent allocations (INVALID)."""
    leaf = build_kv_leaf(tmp_path)

    def change(meta):
        meta["options"] = [1, 3, 2]
        meta["parameters"]["2"]["num_users"] = 50
        meta["parameters"]["1"]["max_concurrent_allocs"] = 64
        del meta["parameters"]["3"]
    edit_json(meta_path(leaf), change)
    result = verify(tmp_path)
    assert [f.actual for f in found(result, "KV-OPTIONS", Outcome.OPEN)] == [[1, 3, 2], 50]
    assert [f.actual for f in found(result, "KV-OPTIONS", Outcome.INVALID)] == [64]
    assert found(result, "KV-OPTIONS", Outcome.UNCHECKED)[0].missing.endswith("parameters.3")
    assert kv_verdict(result) == "INVALID"


def test_a_scaled_duration_is_left_to_kv_scale(tmp_path):
    leaf = build_kv_leaf(tmp_path, meta_over={"duration_scale": 0.01})
    edit_json(meta_path(leaf), lambda m: [m["parameters"][o].update(duration=3) for o in ("1", "2", "3")])
    result = verify(tmp_path)
    assert not found(result, "KV-OPTIONS")
    assert found(result, "KV-SCALE", Outcome.OPEN)
    edit_json(meta_path(leaf), lambda m: m["parameters"]["1"].update(duration=5))
    assert [f.actual for f in found(verify(tmp_path), "KV-OPTIONS", Outcome.OPEN)] == [5]


def test_options_are_not_judged_in_the_open_division(tmp_path):
    leaf = build_kv_leaf(tmp_path, division="open")
    edit_json(meta_path(leaf), lambda m: m["parameters"]["1"].update(num_users=10))
    result = verify(tmp_path)
    assert not found(result, "KV-OPTIONS") and kv_verdict(result) == "OPEN"


# --- KV-LOCKS ------------------------------------------------------------------------------------------
def test_locks_pass_with_seed_42_three_trials_and_90_s(tmp_path):
    build_kv_leaf(tmp_path)
    assert not found(verify(tmp_path), "KV-LOCKS")


def test_changed_locks_are_open(tmp_path):
    """Every lock is something the OPEN division may change (§6.6.2)."""
    def doc(option, trial, rank):
        data = rank_doc(option, trial, rank)
        data["seed"] = 7
        return data
    build_kv_leaf(tmp_path, trials=2, doc=doc, meta_over={"seed": 7, "inter_option_delay": 20, "config": "my.yaml"})
    result = verify(tmp_path)
    assert not found(result, "KV-LOCKS", Outcome.INVALID)
    messages = [f.message for f in found(result, "KV-LOCKS", Outcome.OPEN)]
    assert any("seed=7" in m for m in messages) and any("trials_per_option=2" in m for m in messages)
    assert any("inter_option_delay=20" in m for m in messages) and any("my.yaml" in m for m in messages)
    assert any("rank 1 ran with seed 7" in m or "rank 0 ran with seed 7" in m for m in messages)


# --- KV-NO-AUTOSCALE -----------------------------------------------------------------------------------
def test_autoscaling_is_invalid_in_closed(tmp_path):
    build_kv_leaf(tmp_path, meta_over={"autoscaling": True})
    (finding,) = found(verify(tmp_path), "KV-NO-AUTOSCALE")
    assert finding.outcome == Outcome.INVALID and finding.actual is True


def test_autoscaling_off_passes(tmp_path):
    build_kv_leaf(tmp_path, meta_over={"autoscaling": False})
    assert not found(verify(tmp_path), "KV-NO-AUTOSCALE")


# --- KV-CLIENTS ----------------------------------------------------------------------------------------
def test_a_layout_that_does_not_multiply_out_is_invalid(tmp_path):
    leaf = build_kv_leaf(tmp_path, hosts=2, npernode=2)
    edit_json(meta_path(leaf), lambda m: m.update(npernode=3))
    result = verify(tmp_path)
    messages = [f.message for f in found(result, "KV-CLIENTS", Outcome.INVALID)]
    assert any("4 processes is not 3 per host x 2 hosts" in m for m in messages)
    assert any("summary npernode 2 differs" in m for m in messages)


def test_a_rank_folder_beyond_the_process_count_is_invalid(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    put(leaf / "option_1" / "trial_1" / "rank_5" / f"kvcache_results_{STAMP}.json", rank_doc(1, 1, 5))
    (finding,) = found(verify(tmp_path), "KV-CLIENTS")
    assert "beyond the recorded layout" in finding.message and finding.evidence.endswith(
        f"rank_5/kvcache_results_{STAMP}.json")


# --- KV-ISOLATION --------------------------------------------------------------------------------------
def test_ranks_with_their_own_files_and_caches_pass(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"cache_dir": f"/cache/rank_{rank}"}
    build_kv_leaf(tmp_path, doc=doc)
    assert not found(verify(tmp_path), "KV-ISOLATION")


def test_shared_files_and_caches_are_invalid(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"cache_dir": "/cache", "hostname": "h0"}
    leaf = build_kv_leaf(tmp_path, doc=doc)
    put(leaf / "option_1" / "trial_1" / "rank_1" / "kvcache_results_20260101_010204.json", rank_doc(1, 1, 1))
    edit_json(leaf / "option_2" / "trial_1" / "rank_0" / f"kvcache_results_{STAMP}.json", lambda d: d.update(rank=1))
    messages = [f.message for f in found(verify(tmp_path), "KV-ISOLATION", Outcome.INVALID)]
    assert any("2 results files in rank_1's folder" in m for m in messages)
    assert any("written by rank 1" in m for m in messages)
    assert any("share the cache folder /cache" in m for m in messages)
    assert any("rank 0 cached in /cache" in m for m in messages)


# --- KV-CPU-TIER ---------------------------------------------------------------------------------------
def test_one_cpu_tier_rank_is_listed_not_invalid(tmp_path):
    def doc(option, trial, rank):
        data = rank_doc(option, trial, rank)
        if option == 2 and rank == 0:
            data["summary"]["cache_stats"]["storage_entries"] = 0
        return data
    leaf = build_kv_leaf(tmp_path, doc=doc)
    assert not found(verify(tmp_path), "KV-CPU-TIER")
    summary = json.loads((leaf / "summary.json").read_text())
    assert summary["options"]["2"]["cpu_tier_ranks"] == [
        f"option_2/trial_{t}/rank_0/kvcache_results_{STAMP}.json" for t in (1, 2, 3)]


def test_an_option_served_only_from_the_cpu_tier_is_invalid(tmp_path):
    def doc(option, trial, rank):
        data = rank_doc(option, trial, rank)
        if option == 2:
            data["summary"]["cache_stats"]["storage_entries"] = 0
        return data
    build_kv_leaf(tmp_path, doc=doc)
    (finding,) = found(verify(tmp_path), "KV-CPU-TIER")
    assert finding.outcome == Outcome.INVALID and "Option 2" in finding.message


# --- KV-CLOSED-IMMUTABLE -------------------------------------------------------------------------------
def test_ranks_given_the_option_values_pass(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"args": {"num_users": {1: 200, 2: 100, 3: 70}[option],
                                                         "generation_mode": "none", "enable_rag": False}}
    build_kv_leaf(tmp_path, doc=doc)
    assert not found(verify(tmp_path), "KV-CLOSED-IMMUTABLE")


def test_ranks_given_other_values_or_open_features_are_open_and_extra_parameters_invalid(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"args": {"num_users": 5, "enable_rag": True}}
    leaf = build_kv_leaf(tmp_path, doc=doc)
    edit_json(meta_path(leaf), lambda m: m["parameters"]["1"].update(trace_file="burst.csv"))
    result = verify(tmp_path)
    assert any("num_users, enable_rag changed" in f.message for f in found(result, "KV-CLOSED-IMMUTABLE", Outcome.OPEN))
    assert any("['trace_file']" in f.message for f in found(result, "KV-CLOSED-IMMUTABLE", Outcome.INVALID))


def test_a_rank_given_other_concurrent_allocations_is_invalid(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"args": {"max_concurrent_allocs": 99}}
    build_kv_leaf(tmp_path, doc=doc)
    (finding,) = found(verify(tmp_path), "KV-CLOSED-IMMUTABLE", Outcome.INVALID)
    assert "max_concurrent_allocs changed" in finding.message


# --- KV-FS-SEPARATION ----------------------------------------------------------------------------------
def test_cache_and_results_on_one_filesystem_are_invalid(tmp_path):
    build_kv_leaf(tmp_path, meta_over={"fs_separation": {"cache_dir": "/d", "results_dir": "/d/r",
                                                         "same_filesystem": True}})
    assert [f.outcome for f in found(verify(tmp_path), "KV-FS-SEPARATION")] == [Outcome.INVALID]


def test_unknown_separation_is_a_warning(tmp_path):
    build_kv_leaf(tmp_path, meta_over={"fs_separation": {"same_filesystem": None}})
    assert [f.outcome for f in found(verify(tmp_path), "KV-FS-SEPARATION")] == [Outcome.WARNING]


# --- KV-LEAF-METADATA ----------------------------------------------------------------------------------
def test_a_leaf_without_metadata_is_unchecked(tmp_path):
    build_kv_leaf(tmp_path, write_metadata=False)
    result = verify(tmp_path)
    (finding,) = found(result, "KV-LEAF-METADATA")
    assert finding.outcome == Outcome.UNCHECKED and finding.missing.endswith(f"kv_cache_{STAMP}_metadata.json")
    assert kv_verdict(result) == "UNCHECKED"


def test_two_metadata_files_are_invalid(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    (leaf / "kv_cache_20260101_010204_metadata.json").write_text(meta_path(leaf).read_text())
    outcomes = [f.outcome for f in found(verify(tmp_path), "KV-LEAF-METADATA")]
    assert outcomes == [Outcome.INVALID]


# --- KV-PARTIAL ----------------------------------------------------------------------------------------
def test_a_failed_trial_is_flagged_unchecked(tmp_path):
    def change(meta):
        meta["trials"]["option_3/trial_2"] = {"status": "failed", "failure": {"phase": "run", "hosts": ["h1"],
                                                                             "reason": "rank 1 exited 1"}}
    leaf = build_kv_leaf(tmp_path)
    edit_json(meta_path(leaf), change)
    result = verify(tmp_path)
    (finding,) = found(result, "KV-PARTIAL")
    assert finding.outcome == Outcome.UNCHECKED and "option_3/trial_2" in finding.message
    # the stored summary did not record the failure: the recomputation says so
    assert "trial_failures" in found(result, "KV-SUMMARY")[0].message


def test_missing_ranks_recorded_in_the_summary_are_partial_but_consistent(tmp_path):
    build_kv_leaf(tmp_path, skip={(1, 2, 1)})
    result = verify(tmp_path)
    assert [f.outcome for f in found(result, "KV-PARTIAL")] == [Outcome.UNCHECKED]
    assert "Option 1 partial" in found(result, "KV-PARTIAL")[0].message
    assert not found(result, "KV-SUMMARY")


# --- KV-ENGINE -----------------------------------------------------------------------------------------
def test_the_native_engine_is_open(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"engine": "mlps-native-kvcache", "size_scale": 1.0}
    build_kv_leaf(tmp_path, doc=doc, meta_over={"engine": "native"})
    result = verify(tmp_path)
    assert [f.outcome for f in found(result, "KV-ENGINE")] == [Outcome.OPEN] and kv_verdict(result) == "OPEN"


def test_metadata_and_rank_files_naming_different_engines_are_invalid(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"engine": "mlps-native-kvcache"}
    build_kv_leaf(tmp_path, doc=doc, meta_over={"engine": "mlcommons"})
    assert [f.outcome for f in found(verify(tmp_path), "KV-ENGINE")] == [Outcome.INVALID]


# --- KV-SCALE ------------------------------------------------------------------------------------------
def test_a_scaled_run_is_open(tmp_path):
    build_kv_leaf(tmp_path, division="open", meta_over={"duration_scale": 0.1})
    (finding,) = found(verify(tmp_path), "KV-SCALE")
    assert finding.outcome == Outcome.OPEN and finding.actual == 0.1


def test_a_scale_that_is_not_a_number_is_invalid(tmp_path):
    build_kv_leaf(tmp_path, meta_over={"size_scale": "half"})
    assert [f.outcome for f in found(verify(tmp_path), "KV-SCALE")] == [Outcome.INVALID]


# --- KV-SUMMARY ----------------------------------------------------------------------------------------
def test_a_summary_that_differs_from_its_rank_files_is_invalid(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    edit_json(leaf / "summary.json", lambda s: s["options"]["2"].update(
        aggregated_read_bandwidth_gbps=s["options"]["2"]["aggregated_read_bandwidth_gbps"] * (1 + 1e-6)))
    (finding,) = found(verify(tmp_path), "KV-SUMMARY")
    assert finding.outcome == Outcome.INVALID and finding.actual == ["options.2.aggregated_read_bandwidth_gbps"]


def test_a_difference_below_1e_9_relative_passes(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    edit_json(leaf / "summary.json", lambda s: s["options"]["2"].update(
        aggregated_read_bandwidth_gbps=s["options"]["2"]["aggregated_read_bandwidth_gbps"] * (1 + 1e-12)))
    assert not found(verify(tmp_path), "KV-SUMMARY")


def test_rank_files_missing_after_aggregation_are_named_and_unchecked(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    (leaf / "option_3" / "trial_1" / "rank_1" / f"kvcache_results_{STAMP}.json").unlink()
    result = verify(tmp_path)
    (finding,) = found(result, "KV-SUMMARY")
    assert finding.outcome == Outcome.UNCHECKED and "option_3/trial_1/rank_1" in finding.message
    assert finding.missing.endswith("option_3/trial_1/rank_1") and kv_verdict(result) == "UNCHECKED"


def test_a_leaf_with_no_rank_files_cannot_be_checked(tmp_path):
    leaf = build_kv_leaf(tmp_path, hosts=4)
    for option in (1, 2, 3):
        for path in sorted((leaf / f"option_{option}").rglob("*.json")):
            path.unlink()
    (finding,) = found(verify(tmp_path), "KV-SUMMARY")
    assert finding.message.endswith("the 9 x 4 rank files are missing") and finding.outcome == Outcome.UNCHECKED


def test_a_summary_under_the_old_name_is_invalid(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    (leaf / "summary.json").rename(leaf / f"kvcache_run_summary_{STAMP}.json")
    (finding,) = found(verify(tmp_path), "KV-SUMMARY")
    assert finding.outcome == Outcome.INVALID and finding.actual == f"kvcache_run_summary_{STAMP}.json"


# --- LEAF-STATUS covers KV-cache leaves ----------------------------------------------------------------
@pytest.mark.parametrize("status", ["failed", "interrupted"])
def test_a_kv_leaf_that_did_not_complete_is_invalid(tmp_path, status):
    build_kv_leaf(tmp_path, meta_over={"status": status})
    result = verify(tmp_path)
    assert [f.actual for f in found(result, "LEAF-STATUS")] == [status]
    assert not found(result, "KV-SUMMARY")           # not a result: no other rule judges it


# --- KV-SHARED-RESULTS -------------------------------------------------------------------------------
def test_a_multi_host_run_without_one_hosts_results_is_invalid(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"hostname": "h0"}       # every rank file came from one host
    build_kv_leaf(tmp_path, doc=doc)
    (finding,) = found(verify(tmp_path), "KV-SHARED-RESULTS")
    assert finding.outcome == Outcome.INVALID and (finding.expected, finding.actual) == (2, 1)


def test_rank_results_from_every_host_pass(tmp_path):
    build_kv_leaf(tmp_path, hosts=3)
    assert not found(verify(tmp_path), "KV-SHARED-RESULTS")


# --- KV-GATEWAY --------------------------------------------------------------------------------------
def _cluster_info(fstype: str, options: list) -> dict:
    mount = {"path": "/cache", "fstype": fstype, "device": "bucket-1", "mount_options": options}
    return {"schema": "mlps-cluster-info/1", "hosts": [{"hostname": "h0", "facts": {"paths": {"/cache": mount}}}]}


def test_an_object_gateway_without_recorded_mount_options_is_a_warning(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    put(leaf / "cluster_info.json", _cluster_info("fuse.s3fs", []))
    (finding,) = found(verify(tmp_path), "KV-GATEWAY")
    assert finding.outcome == Outcome.WARNING and "fuse.s3fs" in finding.message


def test_an_object_gateway_with_its_options_is_named_and_a_local_disk_is_not(tmp_path):
    leaf = build_kv_leaf(tmp_path)
    put(leaf / "cluster_info.json", _cluster_info("fuse.mountpoint-s3", ["rw", "allow_other"]))
    (finding,) = found(verify(tmp_path), "KV-GATEWAY")
    assert finding.outcome == Outcome.INFO and "rw,allow_other" in finding.message
    put(leaf / "cluster_info.json", _cluster_info("xfs", ["rw"]))
    assert not found(verify(tmp_path), "KV-GATEWAY")


# --- KV-OPEN -----------------------------------------------------------------------------------------
def test_a_rank_left_with_kv_cache_py_defaults_is_a_warning(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"args": {"cpu_mem_gb": 32, "gpu_mem_gb": 0}}
    build_kv_leaf(tmp_path, doc=doc, division="open")
    findings = found(verify(tmp_path), "KV-OPEN", Outcome.WARNING)
    assert findings and "default cpu_mem_gb" in findings[0].message


def test_ranks_given_every_option_value_pass_kv_open(tmp_path):
    def doc(option, trial, rank):
        return rank_doc(option, trial, rank) | {"args": {"cpu_mem_gb": 4 if option == 2 else 0, "gpu_mem_gb": 0}}
    build_kv_leaf(tmp_path, doc=doc)
    assert not found(verify(tmp_path), "KV-OPEN")
