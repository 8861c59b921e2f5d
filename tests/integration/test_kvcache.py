"""The whole KV-cache campaign for real (playbooks/run_kvcache.yml): preflight, facts, probes, the plan,
Options 1 -> 2 -> 3 with their trials over mpirun (the native engine, one process per rank, seconds
long, entries scaled down), cache drops, samplers, the run leaf with every rank's file, summary.json,
results.json and the verdict; on localhost and on the 3-host namespace cluster; the bad inputs that stop
it before any I/O; and a rank killed mid-trial."""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from pathlib import Path

import pytest

from mlps.results import kv_cache as kv_results
from mlps.results.reader import read_tree
from tests.faults import live
from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import LOCAL_INVENTORY, cluster_vars

pytestmark = [pytest.mark.integration]

TINY = {
    "mlps_kvcache_division": "open", "mlps_kvcache_system": "test-sys", "mlps_kvcache_duration_scale": 0.01,
    "mlps_kvcache_size_scale": 0.001, "mlps_kvcache_users": 4, "mlps_kvcache_trials": 2,
    "mlps_kvcache_inter_option_delay": 1, "mlps_kvcache_poll_interval": 1,
}
# A scaled native run under open/: nothing else may show up.
EXPECTED_OPEN = {"KV-ENGINE", "KV-SCALE", "DIVISION-OPEN"}


@pytest.fixture
def shm_cache():
    # The KV cache on tmpfs, results and staging under /tmp and /var/tmp: two filesystems (§6.4.1).
    path = Path("/dev/shm") / f"mlps-kv-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def campaign(inventory, results: Path, cache: Path, **extra) -> PlaybookRun:
    extra_vars = {"mlps_results_dir": str(results), "mlps_data_dir": str(cache.parent),
                  "mlps_kvcache_cache_dir": str(cache), **TINY, **extra}
    return run_playbook("run_kvcache.yml", inventory, extra_vars, timeout=900)


def workload(results: Path, division: str = "open") -> Path:
    return results / division / "mlps" / "results" / "test-sys" / "kv_cache" / "llama3.1-8b"


def the_leaf(results: Path, division: str = "open") -> tuple[Path, dict]:
    (leaf,) = sorted(p for p in (workload(results, division) / "run").iterdir() if p.is_dir())
    return leaf, json.loads((leaf / f"kv_cache_{leaf.name}_metadata.json").read_text())


def check_leaf(results: Path, hosts: list[str], ranks: int, options=(1, 2, 3), trials: int = 2) -> Path:
    leaf, meta = the_leaf(results)
    assert meta["status"] == "completed", meta.get("message")
    assert (meta["engine"], meta["size_scale"], meta["duration_scale"]) == ("native", 0.001, 0.01)
    assert (meta["num_processes"], meta["host_count"], meta["options"]) == (ranks, len(hosts), list(options))
    seen_hosts = set()
    for option in options:
        for trial in range(1, trials + 1):
            key = f"option_{option}/trial_{trial}"
            assert meta["trials"][key]["status"] == "completed", meta["trials"][key]
            assert meta["trials"][key]["ranks_done"] == list(range(ranks))
            for rank in range(ranks):
                (path,) = (leaf / key / f"rank_{rank}").glob("kvcache_results_*.json")
                doc = json.loads(path.read_text())
                assert doc["seed"] == 42 + rank and doc["summary"]["total_requests"] > 0
                assert doc["args"]["num_users"] == 4
                assert doc["args"]["model"] == meta["parameters"][str(option)]["model"]
                seen_hosts.add(doc["hostname"])
            assert (leaf / key / "kvcache.log").is_file()
            series = leaf / f"kv_cache_{leaf.name}_timeseries" / key
            assert sorted(p.stem for p in series.iterdir()) == sorted(hosts)
            assert sorted(meta["trials"][key]["drop_caches"]) == sorted(hosts)    # dropped before each trial
    assert len(seen_hosts) == len(hosts)
    # summary.json is the aggregation of the rank files, to the last digit
    stored = json.loads((leaf / "summary.json").read_text())
    tree = read_tree(workload(results))
    (read_leaf,) = [lf for wl in tree.workloads for lf in wl.runs]
    assert kv_results.summary_differences(stored, kv_results.recompute(read_leaf)) == []
    assert stored["total_ranks"] == ranks and stored["partial_failure"] is False
    assert sorted(stored["options"]) == [str(o) for o in options]
    for option in options:
        figures = stored["options"][str(option)]
        assert figures["rank_count"] == ranks and figures["trial_count"] == trials
        assert figures["aggregated_read_bandwidth_gbps"] > 0 and figures["aggregated_p95_latency_ms"] > 0
    document = json.loads((workload(results) / "results.json").read_text())
    assert document["runs"] == [leaf.name] and document["results"]["source"] == "rank files"
    return leaf


def check_verdict(run: PlaybookRun) -> None:
    (final,) = run.results("Print the verdict of the campaign").values()
    lines = final["msg"]
    assert lines[0].startswith("verdict of the campaign: OPEN"), lines
    rules = {line.split(":", 1)[0].split()[-1] for line in lines[1:]}
    assert rules == EXPECTED_OPEN, lines


def test_campaign_on_localhost(tmp_path, client_venv, shm_cache):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_cache, mlps_venv=str(client_venv), mlps_kvcache_npernode=2)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    check_leaf(results, ["localhost"], 2)
    check_verdict(run)
    assert "option_1/trial_2: option 1 trial 2 done: 3 s" in run.stdout
    # every rank removed its cache files and folder (the preflight made the cache folder: it stays, empty)
    assert not list(shm_cache.rglob("*"))
    preflight = json.loads((results / "preflight.json").read_text())
    assert preflight["plan"]["source"].startswith("kv_cache: each rank caps its storage tier")


def bad_input(tmp_path, client_venv, cache, **extra) -> str:
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, cache, mlps_venv=str(client_venv), mlps_preflight_skip=True,
                   mlps_kvcache_facts=False, **extra)
    assert run.rc != 0
    (message,) = run.messages()
    assert not workload(results).exists()                     # stopped before any leaf
    assert not list(Path(str(cache)).glob("rank_*"))          # and before any cache I/O
    return message


@pytest.mark.parametrize(("extra", "expected"), [
    ({"mlps_kvcache_options": "1,4"}, "mlps_kvcache_options='1,4': option '4' is unknown"),
    ({"mlps_kvcache_model": "gpt-9"}, "mlps_kvcache_model='gpt-9': expected one of tiny-1b"),
    ({"mlps_kvcache_size_scale": 1.0, "mlps_kvcache_users": 0},
     "more concurrent allocations than memory can hold: Option 1 on localhost"),
])
def test_bad_input_stops_before_any_io(tmp_path, client_venv, shm_cache, extra, expected):
    assert expected in bad_input(tmp_path, client_venv, shm_cache, **extra)


def test_a_cache_dir_that_cannot_be_created_stops(tmp_path, client_venv):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    message = bad_input(tmp_path, client_venv, blocker / "kvcache")
    assert f"mlps_kvcache_cache_dir={blocker}/kvcache cannot be created on localhost: {blocker} is not a folder" \
        in message


def test_results_on_the_cache_filesystem_stop(tmp_path, client_venv, shm_cache):
    results = shm_cache.parent / f"{shm_cache.name}-results"
    try:
        run = campaign(LOCAL_INVENTORY, results, shm_cache, mlps_venv=str(client_venv), mlps_preflight_skip=True,
                       mlps_kvcache_facts=False)
        assert run.rc != 0
        (message,) = run.messages()
        assert f"localhost: the results folder {results}" in message and "§6.4.1" in message
        assert not workload(results).exists()
    finally:
        shutil.rmtree(results, ignore_errors=True)


def _rank_child(rank: int, cache: Path) -> int | None:
    """The engine process (the rank supervisor's child) of one rank of this campaign, once it has
    started writing its cache."""
    if not list((cache / f"rank_{rank}").glob("*.npy")):
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--mlps-rank-child" in cmdline and str(cache).encode() in cmdline \
                and f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def test_a_rank_killed_mid_trial_gives_a_partial_trial_naming_rank_and_host(tmp_path, client_venv, shm_cache):
    results = tmp_path / "results"
    extra = {"mlps_results_dir": str(results), "mlps_kvcache_cache_dir": str(shm_cache), **TINY,
             "mlps_venv": str(client_venv), "mlps_preflight_skip": True, "mlps_kvcache_facts": False,
             "mlps_kvcache_options": "1", "mlps_kvcache_trials": 1, "mlps_kvcache_npernode": 2,
             "mlps_kvcache_duration_scale": 0.05}
    proc = live.start("run_kvcache.yml", LOCAL_INVENTORY, extra, tmp_path / "run.log")
    try:
        live.wait_for(lambda: _rank_child(1, shm_cache) is not None, 300, "rank 1's engine")
        os.kill(_rank_child(1, shm_cache), signal.SIGKILL)
        rc = live.finish(proc, 300)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "run.log").read_text()
    assert rc != 0, log[-3000:]                      # the run is not clean, and says why at the end
    assert "option_1/trial_1 partial: no results from rank 1 on localhost (rank 1 on" in log
    assert "KV-PARTIAL" in log
    leaf, meta = the_leaf(results)
    trial = meta["trials"]["option_1/trial_1"]
    assert trial["partial"] is True and trial["ranks_done"] == [0]
    assert trial["missing_ranks"][0]["rank"] == 1 and "killed by signal 9" in trial["missing_ranks"][0]["reason"]
    summary = json.loads((leaf / "summary.json").read_text())
    assert summary["partial_failure"] is True and summary["options"]["1"]["partial_failure"] is True
    assert summary["options"]["1"]["missing_files"] == ["option_1/trial_1/rank_1"]
    assert summary["trial_failures"] == {"option_1/trial_1": {"status": "failed"}}
    assert not list(shm_cache.glob("rank_*/*.npy")) if shm_cache.exists() else True


@pytest.mark.cluster
def test_campaign_on_three_hosts(cluster3, cluster_venv, tmp_path, shm_cache):
    results = tmp_path / "results"
    run = campaign(cluster3.inventory, results, shm_cache, **cluster_vars(mlps_kvcache_options="1,3"))
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    hosts = [line.split()[0] for line in cluster3.inventory.read_text().splitlines() if "ansible_host=" in line]
    assert len(hosts) == 3
    check_leaf(results, hosts, 3, options=(1, 3))
    (final,) = run.results("Print the verdict of the campaign").values()
    assert final["msg"][0].startswith("verdict of the campaign: OPEN"), final["msg"]


def test_campaign_hands_the_ranks_to_mlcommons_kv_cache_py(tmp_path, client_venv, shm_cache):
    """engine auto finds kv-cache.py in mlps_kvcache_mlcommons_dir (here the tests' stand-in, which
    takes kv-cache.py's options and writes its output file) and runs it for every rank: no KV-ENGINE."""
    results = tmp_path / "results"
    standin = Path(__file__).resolve().parents[1] / "standins" / "kv_cache_benchmark"
    run = campaign(LOCAL_INVENTORY, results, shm_cache, mlps_venv=str(client_venv), mlps_preflight_skip=True,
                   mlps_kvcache_facts=False, mlps_kvcache_mlcommons_dir=str(standin), mlps_kvcache_options="1",
                   mlps_kvcache_trials=1, mlps_kvcache_size_scale=1.0, mlps_kvcache_model="tiny-1b",
                   mlps_kvcache_npernode=2)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    leaf, meta = the_leaf(results)
    assert meta["engine"] == "mlcommons" and meta["engine_reason"].endswith("kv_cache_benchmark/kv-cache.py")
    for rank in (0, 1):
        (path,) = (leaf / "option_1" / "trial_1" / f"rank_{rank}").glob("kvcache_results_*.json")
        doc = json.loads(path.read_text())
        assert doc["seed"] == 42 + rank and "engine" not in doc
    (final,) = run.results("Print the verdict of the campaign").values()
    rules = {line.split(":", 1)[0].split()[-1] for line in final["msg"][1:]}
    assert "KV-ENGINE" not in rules and {"KV-SCALE", "DIVISION-OPEN"} <= rules, final["msg"]


def test_check_prints_every_trials_mpirun_command_and_writes_nothing(tmp_path, client_venv, shm_cache):
    results = tmp_path / "results"
    run = run_playbook("run_kvcache.yml", LOCAL_INVENTORY,
                       {"mlps_results_dir": str(results), "mlps_data_dir": str(shm_cache.parent),
                        "mlps_kvcache_cache_dir": str(shm_cache), **TINY, "mlps_venv": str(client_venv),
                        "mlps_kvcache_npernode": 2}, args=["--check"], timeout=600)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    commands = [line for line in run.stdout.splitlines() if "mpirun -np 2" in line]
    assert len(commands) == 6                                  # 3 Options x 2 trials, each shown once
    assert "Options 1, 2, 3 x 2 trials, 2 ranks (2 per client on 1)" in run.stdout
    assert not results.exists() and not shm_cache.exists()     # no leaf, no preflight.json, no cache
