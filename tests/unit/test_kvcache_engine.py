"""The native KV-cache engine: real runs of the script (rank 0 and rank 1, tiny entries, 2 s), its bad-input
exits, and its pure parts (entry sizes, percentiles, tier placement and LRU demotion, unique 4 KiB blocks).

The runs need a Python with numpy (the clients' venv has it; the controller's may not): MLPS_KV_PYTHON,
else this interpreter, else the real client venv (the session fixture builds it with playbooks/setup.yml)."""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlps_module_utils import mlps_dlio_progress as prog
from mlps_module_utils import mlps_kvcache as kv

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "module_utils" / "mlps_kvcache.py"
NAME = re.compile(r"kvcache_results_(\d{8}_\d{6})\.json")
TINY = ["--model", "llama3.1-8b", "--num-users", "3", "--duration", "2", "--gpu-mem-gb", "0", "--cpu-mem-gb", "0",
        "--max-concurrent-allocs", "16", "--generation-mode", "none", "--seed", "42", "--size-scale", "0.001"]
CACHE_STATS = (
    "cache_hit_rate", "cache_hits", "cache_misses", "gpu_entries", "cpu_entries", "storage_entries",
    "offloads_storage", "prefill_writes", "decode_reads", "total_read_gb", "total_write_gb", "read_iops",
    "write_iops", "read_write_ratio", "tier_storage_read_bandwidth_gbps", "tier_storage_write_bandwidth_gbps",
    "tier_storage_kv_bytes_read_gb", "tier_storage_kv_bytes_written_gb", "storage_health",
    *(f"storage_{kind}{part}_{p}_ms" for kind in ("read", "write") for part in ("_device", "_host", "")
      for p in ("p50", "p95", "p99", "p999", "p9999")),
)
LATENCY_KEYS = ["mean", "p50", "p95", "p99", "p999", "p9999"]


def _has_numpy(python: str) -> bool:
    return Path(python).is_file() and subprocess.run([python, "-c", "import numpy"], capture_output=True,
                                                      check=False, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def python(request) -> str:
    """A Python with numpy: MLPS_KV_PYTHON, this interpreter, else the real client venv (built once
    per session by playbooks/setup.yml, as the campaign's clients run the engine)."""
    for candidate in (os.environ.get("MLPS_KV_PYTHON"), sys.executable):
        if candidate and _has_numpy(candidate):
            return candidate
    return str(request.getfixturevalue("client_venv") / "bin" / "python")


def start(python: str, rank: int, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")}
    env["OMPI_COMM_WORLD_RANK"] = str(rank)
    return subprocess.Popen([python, str(ENGINE), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def runs(python, tmp_path_factory):
    """Rank 0 and rank 1 side by side; rank 1's cache folder exists beforehand with a file of someone else."""
    base = tmp_path_factory.mktemp("kv")
    cache, results, log = base / "cache", base / "results", base / "progress.log"
    (cache / "rank_1").mkdir(parents=True)
    (cache / "rank_1" / "notes.txt").write_text("not the engine's")
    before = datetime.datetime.now().replace(microsecond=0)
    procs = [start(python, rank, *TINY, "--cache-dir", str(cache), "--results-dir", str(results),
                   "--progress-log", str(log), "--label", "option 1 trial 2") for rank in (0, 1)]
    done = [finish(p) for p in procs]
    after = datetime.datetime.now()
    for rc, _, err in done:
        assert rc == 0, err
    files = {rank: sorted((results / f"rank_{rank}").iterdir()) for rank in (0, 1)}
    data = {rank: json.loads(files[rank][0].read_text()) for rank in (0, 1)}
    return {"base": base, "cache": cache, "results": results, "log": log, "files": files, "data": data,
            "stdout": [out for _, out, _ in done], "window": (before, after)}


# -- real runs ----------------------------------------------------------------------------------------


def test_each_rank_writes_one_results_file_named_by_its_start_time(runs):
    before, after = runs["window"]
    assert sorted(p.name for p in runs["results"].iterdir()) == ["rank_0", "rank_1"]
    for rank in (0, 1):
        files = runs["files"][rank]
        assert len(files) == 1, files
        stamp = datetime.datetime.strptime(NAME.fullmatch(files[0].name).group(1), "%Y%m%d_%H%M%S")
        assert before <= stamp <= after
        assert runs["stdout"][rank].strip() == f"mlps_kvcache: rank {rank} wrote {files[0]}"


def test_results_identify_the_engine_rank_seed_and_arguments(runs):
    for rank in (0, 1):
        data = runs["data"][rank]
        assert (data["engine"], data["rank"], data["seed"], data["size_scale"], data["model"]) == \
            ("mlps-native-kvcache", rank, 42 + rank, 0.001, "llama3.1-8b")
        assert data["args"]["num_users"] == 3 and data["args"]["seed"] == 42 and data["hostname"]
        assert data["argv"][:len(TINY)] == TINY


def test_counters_and_summary_agree(runs):
    for rank in (0, 1):
        data = runs["data"][rank]
        summary, cache = data["summary"], data["summary"]["cache_stats"]
        elapsed = summary["elapsed_time"]
        assert 2.0 <= elapsed < 5.0
        assert summary["total_requests"] == data["requests_completed"] == len(data["end_to_end_latencies"]) > 0
        assert summary["total_tokens"] == data["total_tokens_generated"] > 0
        assert summary["requests_per_second"] == pytest.approx(data["requests_completed"] / elapsed)
        assert summary["avg_throughput_tokens_per_sec"] == pytest.approx(summary["total_tokens"] / elapsed)
        assert summary["total_storage_io_time"] == pytest.approx(math.fsum(data["storage_latencies"]))
        assert summary["storage_throughput_tokens_per_sec"] == pytest.approx(
            summary["total_tokens"] / summary["total_storage_io_time"])
        assert set(CACHE_STATS) <= set(cache)
        assert cache["tier_storage_read_bandwidth_gbps"] == pytest.approx(data["storage_bytes_read"] / 2**30 / elapsed)
        assert cache["tier_storage_write_bandwidth_gbps"] == pytest.approx(
            data["storage_bytes_written"] / 2**30 / elapsed)
        assert cache["tier_storage_kv_bytes_read_gb"] == pytest.approx(data["storage_bytes_read"] / 2**30)
        assert cache["decode_reads"] > cache["prefill_writes"] == cache["storage_entries"] > 0
        assert (cache["gpu_entries"], cache["cpu_entries"], cache["offloads_storage"]) == (0, 0, 0)
        assert cache["read_iops"] == cache["cache_hits"] and cache["write_iops"] == cache["prefill_writes"]
        assert cache["read_write_ratio"] == pytest.approx(cache["total_read_gb"] / cache["total_write_gb"])
        assert data["multi_turn_cache_hits"] == summary["multi_turn_stats"]["cache_hits"]
        assert (data["io_errors"], data["first_io_error"]) == (0, None)
        health = cache["storage_health"]
        assert health["total_count"] == len(health["criteria"]) == 3  # no CPU tier: its target is not judged


def test_latency_figures_are_numpy_linear_percentiles_in_ms(runs):
    data = runs["data"][0]
    for field, samples in (("end_to_end_latency_ms", "end_to_end_latencies"),
                           ("storage_io_latency_ms", "storage_latencies"),
                           ("generation_latency_ms", "generation_latencies")):
        figures = data["summary"][field]
        assert list(figures) == LATENCY_KEYS
        values = data[samples]
        cuts = statistics.quantiles(values, n=100, method="inclusive")  # the same interpolation as numpy's default
        assert figures["p95"] == pytest.approx(cuts[94] * 1000, abs=1e-9)
        assert figures["mean"] == pytest.approx(statistics.fmean(values) * 1000)
        assert figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["p999"] <= figures["p9999"]
    cache = data["summary"]["cache_stats"]
    for kind in ("read", "write"):
        assert cache[f"storage_{kind}_device_p95_ms"] <= cache[f"storage_{kind}_device_p99_ms"]
        for q in ("p50", "p95", "p99"):  # every I/O's total is its host plus its device span
            assert 0 < cache[f"storage_{kind}_device_{q}_ms"] <= cache[f"storage_{kind}_{q}_ms"] + 1e-9
    assert data["summary"]["generation_latency_ms"]["p9999"] == 0.0  # generation mode none


def test_seeds_42_and_43_give_different_users(runs):
    users = [runs["data"][rank]["users"] for rank in (0, 1)]
    assert len(users[0]) == len(users[1]) == 3
    assert users[0] != users[1]
    assert {u["type"] for u in users[0] + users[1]} <= {"chatbot", "coding", "document"}


def test_cache_is_emptied_and_only_what_the_engine_created_is_removed(runs):
    cache = runs["cache"]
    assert not (cache / "rank_0").exists()  # created by the run, emptied, removed
    assert sorted(p.name for p in (cache / "rank_1").iterdir()) == ["notes.txt"]  # existed before: kept
    assert not list(cache.rglob("*.npy"))


def test_only_rank_0_logs_progress_and_the_parser_reads_it(runs):
    lines = runs["log"].read_text().splitlines()
    assert len(lines) >= 3  # elapsed 0, about once a second, done
    assert all(" mlps-kvcache " in line and 'label="option 1 trial 2"' in line for line in lines)
    assert " mlps-kvcache done " in lines[-1] and all(" mlps-kvcache progress " in line for line in lines[:-1])
    state, _ = prog.read_progress(str(runs["log"]))
    figures = prog.summarize(state)
    data = runs["data"][0]
    assert (figures["phase"], figures["requests"], figures["read_bytes"], figures["write_bytes"]) == \
        ("done", data["requests_completed"], data["storage_bytes_read"], data["storage_bytes_written"])
    assert figures["text"].startswith(f"option 1 trial 2 done: 2 s, {data['requests_completed']:,} request")


def test_max_requests_stops_early_and_fast_generation_sleeps(python, tmp_path):
    args = [*TINY, "--duration", "30", "--max-requests", "3", "--generation-mode", "fast",
            "--cache-dir", str(tmp_path / "c"), "--results-dir", str(tmp_path / "r")]
    started = time.monotonic()
    rc, _, err = finish(start(python, 0, *args))
    assert rc == 0, err
    assert time.monotonic() - started < 15
    data = json.loads(next((tmp_path / "r" / "rank_0").iterdir()).read_text())
    assert data["requests_completed"] >= 3 and data["summary"]["elapsed_time"] < 15
    generated = data["summary"]["generation_latency_ms"]
    assert generated["mean"] > 0
    assert data["total_generation_latency"] >= data["total_tokens_generated"] * 0.002 * 0.9
    assert not list((tmp_path / "c").rglob("*.npy"))


def test_memory_tiers_demote_down_to_storage_which_deletes_its_lru_files(python, tmp_path):
    args = [*TINY, "--num-users", "10", "--gpu-mem-gb", "1", "--cpu-mem-gb", "4", "--max-concurrent-allocs", "4",
            "--storage-capacity-gb", "0.02", "--cache-dir", str(tmp_path / "c"), "--results-dir", str(tmp_path / "r")]
    rc, _, err = finish(start(python, 0, *args))
    assert rc == 0, err
    data = json.loads(next((tmp_path / "r" / "rank_0").iterdir()).read_text())
    cache = data["summary"]["cache_stats"]
    scale = 0.001 * 2**30                          # the GPU and CPU tiers shrink with the entries
    assert data["tier_capacity_bytes"] == {"gpu": int(1 * scale), "cpu": int(4 * scale), "storage": int(0.02 * 2**30)}
    assert cache["offloads_cpu"] > 0 and cache["offloads_storage"] > 0 and cache["storage_evictions"] > 0
    assert min(cache["gpu_entries"], cache["cpu_entries"], cache["storage_entries"]) > 0
    for tier in ("gpu", "cpu", "storage"):
        assert 0 < data["tier_used_bytes"][tier] <= data["tier_capacity_bytes"][tier]
        assert data["tier_bytes_written"][tier] > 0
    assert cache["read_iops"] > cache["cache_hits"]      # demotions read their data too
    assert cache["storage_health"]["total_count"] == 4   # the CPU tier's latency is judged now
    assert data["io_errors"] == 0
    assert not (tmp_path / "c" / "rank_0").exists()


def test_sigterm_stops_the_rank_without_results_and_empties_the_cache(python, tmp_path):
    log = tmp_path / "p.log"
    proc = start(python, 0, *TINY, "--duration", "60", "--cache-dir", str(tmp_path / "c"),
                 "--results-dir", str(tmp_path / "r"), "--progress-log", str(log))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(log.read_text().splitlines() if log.exists() else []) < 2:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 128 + signal.SIGTERM, err
    assert "stopped by signal" in err
    assert list((tmp_path / "r" / "rank_0").iterdir()) == []
    assert not (tmp_path / "c" / "rank_0").exists()


# -- bad input ------------------------------------------------------------------------------------------


def bad_run(python: str, tmp_path: Path, *args: str, rank: int = 0) -> str:
    rc, out, err = finish(start(python, rank, *args))
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))
    return err.strip()


def test_unknown_model_is_one_line_and_exit_2(python, tmp_path):
    args = [*TINY, "--model", "gpt-9", "--cache-dir", str(tmp_path / "c"), "--results-dir", str(tmp_path / "r")]
    err = bad_run(python, tmp_path, *args)
    assert err.startswith("mlps_kvcache: error: --model 'gpt-9': unknown model; expected one of tiny-1b, ")
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_cache_dir_under_a_regular_file_is_one_line_and_exit_2(python, tmp_path):
    (tmp_path / "file").write_text("x")
    cache = tmp_path / "file" / "cache"
    err = bad_run(python, tmp_path, *TINY, "--cache-dir", str(cache), "--results-dir", str(tmp_path / "r"), rank=1)
    assert err.startswith(f"mlps_kvcache: error: rank 1: --cache-dir {cache}: cannot create or write ")
    assert "give a writable directory" in err
    assert not (tmp_path / "r").exists()


def test_unwritable_results_dir_leaves_no_cache_folder(python, tmp_path):
    (tmp_path / "file").write_text("x")
    err = bad_run(python, tmp_path, *TINY, "--cache-dir", str(tmp_path / "c"),
                  "--results-dir", str(tmp_path / "file" / "r"))
    assert f"--results-dir {tmp_path / 'file' / 'r'}: cannot create or write" in err
    assert list((tmp_path / "c").iterdir()) == []


def test_leftover_entries_in_the_cache_folder_are_refused_and_kept(python, tmp_path):
    (tmp_path / "c" / "rank_0").mkdir(parents=True)
    (tmp_path / "c" / "rank_0" / "conv0_turn_1.npy").write_bytes(b"old")
    err = bad_run(python, tmp_path, *TINY, "--cache-dir", str(tmp_path / "c"), "--results-dir", str(tmp_path / "r"))
    assert "already holds 1 .npy files from another run; remove them" in err
    assert (tmp_path / "c" / "rank_0" / "conv0_turn_1.npy").read_bytes() == b"old"


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--size-scale", "0", "--size-scale 0.0: expected 0 < F <= 1"),
    ("--size-scale", "1.5", "--size-scale 1.5: expected 0 < F <= 1"),
    ("--generation-mode", "slow", "--generation-mode 'slow': expected one of none, fast, realistic"),
    ("--num-users", "0", "--num-users 0: expected 1 or more"),
])
def test_bad_values_name_the_option(option, value, expected, capsys):
    assert kv.main([*TINY, option, value, "--cache-dir", "/nonexistent/c", "--results-dir", "/nonexistent/r"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mlps_kvcache: error: {expected}"


def test_a_missing_option_is_one_line_too(capsys):
    assert kv.main(["--model", "llama3.1-8b"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--num-users" in err and "(see --help)" in err


# -- pure parts ------------------------------------------------------------------------------------------


def test_entry_bytes_are_tokens_times_bytes_per_token_scaled_in_whole_fp16_values():
    assert kv.entry_bytes(1000, kv.BYTES_PER_TOKEN["llama3.1-8b"]) == 131_072_000
    assert kv.entry_bytes(25000, kv.BYTES_PER_TOKEN["llama3.1-70b-instruct"]) == 8_192_000_000
    assert kv.entry_bytes(3, 24576, 0.001) == 72          # 73.7 -> 72: whole fp16 values
    assert kv.entry_bytes(1, 24576, 1e-9) == 2            # never empty
    assert kv.BYTES_PER_TOKEN == {"tiny-1b": 24576, "mistral-7b": 131072, "llama2-7b": 524288,
                                  "llama3.1-8b": 131072, "llama3.1-70b-instruct": 327680}


def test_percentile_is_numpy_linear_and_zero_when_empty():
    rng = random.Random(7)  # noqa: S311 - test data
    for size in (1, 2, 5, 101, 1000):
        values = sorted(rng.expovariate(1.0) for _ in range(size))
        cuts = statistics.quantiles(values, n=100, method="inclusive") if size > 1 else [values[0]] * 99
        for q in (50, 95, 99):
            assert kv.percentile(values, q) == pytest.approx(cuts[q - 1], rel=1e-12)
    assert kv.percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert kv.percentile([], 99.99) == 0.0
    assert kv.latency_ms([]) == dict.fromkeys(LATENCY_KEYS, 0.0)
    assert kv.latency_ms([0.001, 0.003])["mean"] == pytest.approx(2.0)


@pytest.mark.parametrize(("env", "rank"), [({}, 0), ({"PMI_RANK": "3"}, 3), ({"PMIX_RANK": "2", "PMI_RANK": "3"}, 2),
                                           ({"OMPI_COMM_WORLD_RANK": "5", "PMIX_RANK": "2"}, 5),
                                           ({"OMPI_COMM_WORLD_RANK": "x", "PMI_RANK": "1"}, 1)])
def test_rank_comes_from_the_mpi_environment(env, rank):
    assert kv.rank_from_env(env) == rank


def ready(tiers: kv.Tiers, key: str, nbytes: int) -> kv.Entry:
    entry, moves = tiers.place(key, nbytes)
    assert entry is not None
    for move in moves:
        if move.dst is not None:
            tiers.commit(move.dst)
    tiers.commit(entry)
    return entry


def test_storage_tier_drops_its_least_recently_used_files():
    dropped = []
    tiers = kv.Tiers([("gpu", 0), ("cpu", 0), ("storage", 100)], on_drop=lambda e: dropped.append(e.key))
    for key in ("a", "b"):
        assert ready(tiers, key, 40).tier == 2
    tiers.release(tiers.acquire("a"))                 # a read makes "a" the most recently used
    entry, moves = tiers.place("c", 40)
    assert (entry.tier, dropped, [(m.entry.key, m.src, m.dst) for m in moves]) == (2, ["b"], [("b", 2, None)])
    assert tiers.acquire("b") is None and tiers.counts() == [0, 0, 2]
    assert tiers.tiers[2].used == 80 and tiers.drops == [0, 0, 1]


def test_new_entries_waterfall_down_gpu_cpu_storage():
    tiers = kv.Tiers([("gpu", 100), ("cpu", 100), ("storage", 1000)])
    for key in ("a", "b"):                            # the GPU tier fills to 80 %
        assert ready(tiers, key, 40).tier == 0
    entry, moves = tiers.place("c", 40)               # a goes down to the CPU tier
    assert entry.tier == 0 and [(m.entry.key, m.src, m.dst.tier) for m in moves] == [("a", 0, 1)]
    for move in moves:
        tiers.commit(move.dst)
    tiers.commit(entry)
    for key in ("d", "e"):
        ready(tiers, key, 40)
    # d pushed b to the CPU tier; e pushes c into the full CPU tier, which first sends its oldest (a) to storage
    assert tiers.counts() == [2, 2, 1]
    assert tiers.index["a"].tier == 2 and tiers.index["b"].tier == 1 and tiers.index["c"].tier == 1
    assert tiers.offloads == [0, 3, 1]
    entry, moves = tiers.place("f", 40)
    assert [(m.entry.key, m.src, m.dst.tier) for m in moves] == [("b", 1, 2), ("d", 0, 1)]  # deepest first


def test_tier_skip_and_small_tier_rules():
    tiers = kv.Tiers([("gpu", 100), ("cpu", 1000), ("storage", 10_000)])
    assert tiers.place("big", 96)[0].tier == 1        # above 95 % of the GPU tier: skip it
    tiers = kv.Tiers([("gpu", 1000), ("cpu", 0), ("storage", 10_000)])
    ready(tiers, "small", 40)
    assert tiers.place("large", 900)[0].tier == 0     # a tier under 5 % full takes it past its 80 % mark
    assert tiers.place("large", 10) == (None, None)   # already cached (or being written)


def test_entries_in_use_are_never_evicted():
    tiers = kv.Tiers([("gpu", 0), ("cpu", 0), ("storage", 100)])
    ready(tiers, "a", 60)
    pinned = tiers.acquire("a")
    assert tiers.place("b", 60) == (None, [])         # no room, nothing that may go
    tiers.release(pinned)
    writing, _ = tiers.place("c", 30)                 # not committed yet: in flight
    assert tiers.place("d", 60)[0].tier == 2 and "a" not in tiers.index and "c" in tiers.index
    tiers.discard(writing)
    assert "c" not in tiers.index and tiers.tiers[2].used == 60


CONTENT_CHECK = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import mlps_kvcache as kv
content = kv.Content(42, 3 * kv.BLOCK)        # a noise buffer of 3 blocks: entries of 10 blocks wrap it
seen, total = set(), 0
for key in ("conv0_turn_1", "conv0_turn_2", "conv1_turn_1"):
    data = content.make(key, 10 * kv.BLOCK - 6)
    raw = data.view(np.uint8).tobytes()
    assert data.dtype == np.float16 and len(raw) == 10 * kv.BLOCK - 6
    for start in range(0, len(raw), kv.BLOCK):
        seen.add(hashlib.sha256(raw[start:start + kv.BLOCK]).digest())
        total += 1
again = kv.Content(42, 3 * kv.BLOCK).make("conv0_turn_1", 4 * kv.BLOCK)
other = kv.Content(43, 3 * kv.BLOCK).make("conv0_turn_1", 4 * kv.BLOCK)
first = content.make("conv0_turn_1", 4 * kv.BLOCK)
print(json.dumps({"blocks": total, "distinct": len(seen), "noise": int(content.noise.size),
                  "same_seed_same": bool((again.view(np.uint8) == first.view(np.uint8)).all()),
                  "other_seed_differs": bool((other.view(np.uint8) != first.view(np.uint8)).any())}))
"""


def test_no_two_4kib_blocks_repeat_even_when_the_noise_buffer_wraps(python):
    proc = subprocess.run([python, "-c", CONTENT_CHECK, str(ROOT / "module_utils")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {"blocks": 30, "distinct": 30, "noise": 3 * 4096, "same_seed_same": True,
                      "other_seed_differs": True}


# --- the rank supervisor and the MLCommons hand-over ------------------------------------------------
def test_a_killed_rank_leaves_a_failure_record_an_empty_cache_and_exit_0(python, tmp_path):
    """mpirun then lets the other ranks finish the trial; the campaign names this rank as missing."""
    cache, results = tmp_path / "c", tmp_path / "r"
    proc = start(python, 3, *TINY, "--duration", "60", "--cache-dir", str(cache), "--results-dir", str(results))
    child = None
    for _ in range(100):
        found = subprocess.run(["pgrep", "-f", f"mlps-rank-child.*{cache}"], capture_output=True, text=True,
                               check=False).stdout.split()
        if found and list((cache / "rank_3").glob("*.npy")):
            child = int(found[0])
            break
        time.sleep(0.1)
    assert child, "the rank's engine process never started writing"
    os.kill(child, signal.SIGKILL)
    rc, _, err = finish(proc)
    assert rc == 0
    assert "rank 3 failed (-9)" in err
    records = list((results / "rank_3").glob("kvcache_failure_*.json"))
    assert len(records) == 1 and not list((results / "rank_3").glob("kvcache_results_*.json"))
    record = json.loads(records[0].read_text())
    assert record["returncode"] == -9 and record["reason"].endswith("killed by signal 9")
    assert record["cache_files_removed"] > 0 and not list((cache / "rank_3").glob("*.npy"))


def test_delegate_hands_the_rank_to_kv_cache_py_with_its_seed_cache_and_output(python, tmp_path):
    script = ROOT / "tests" / "standins" / "kv_cache_benchmark" / "kv-cache.py"
    cache, results = tmp_path / "c", tmp_path / "r"
    rc, _out, err = finish(start(python, 1, *[a for a in TINY if a not in ("--size-scale", "0.001")],
                                "--delegate", str(script), "--cache-dir", str(cache), "--results-dir", str(results)))
    assert rc == 0, err
    files = list((results / "rank_1").glob("kvcache_results_*.json"))
    assert len(files) == 1
    document = json.loads(files[0].read_text())
    assert document["seed"] == 43 and "engine" not in document       # kv-cache.py's own output, seed 42 + rank
    assert document["summary"]["total_requests"] > 0
    assert (cache / "rank_1").is_dir() and not list((cache / "rank_1").rglob("*.npy"))


def test_delegate_refuses_a_size_scale_and_a_missing_script(python, tmp_path):
    err = bad_run(python, tmp_path, *TINY, "--delegate", str(tmp_path / "nope.py"), "--cache-dir",
                  str(tmp_path / "c"), "--results-dir", str(tmp_path / "r"))
    assert "--delegate" in err and "not a file" in err
