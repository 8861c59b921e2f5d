"""The whole checkpointing campaign for real (playbooks/run_checkpointing.yml): preflight, facts, the
probes, the shard plan, the native engine under mpirun (DLIO 2.0.0 has no checkpoint-only workload,
so engine auto picks it), 10 writes, a cache drop, 10 reads, samplers, the results tree and the
verdict; on localhost and on the 3-host namespace cluster; and the bad inputs that stop it before
any I/O. Shards are llama3-8b's scaled to a few MB per checkpoint."""

from __future__ import annotations

import json
import shutil
import signal
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from mlps.campaign.checkpointing import preflight_bytes
from tests.faults import live
from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import LOCAL_INVENTORY, cluster_vars

pytestmark = [pytest.mark.integration]

RANK_8B = 2_007_565_312 + 12_045_637_632           # DLIO's shard sizes: one llama3-8b rank per checkpoint
CKPT_8B = 8 * RANK_8B                              # its CLOSED checkpoint: 104.70 GiB, whatever the rank count
SCALE = 0.0001                                     # about 1.4 MB per rank per checkpoint
TINY = {
    "mlps_checkpointing_scale": SCALE,
    "mlps_checkpointing_division": "open",
    "mlps_checkpointing_system": "test-sys",
    "mlps_checkpointing_poll_interval": 1,
    "mlps_checkpointing_run_timeout": 300,
    # long enough that each invocation (10 x 2.5 s) outlasts the gap between them (CKPT-TS-GAP) even on
    # a loaded machine, where collecting the writes and starting the reads can take 10 s or more
    "mlps_checkpointing_time_between_checkpoints": 2.5,
}
# What a scaled native OPEN run is expected to report: nothing else may show up.
# the native engine and the scaled sizes; these campaigns write under open/, which is OPEN at best
EXPECTED_OPEN = {"CKPT-ENGINE", "CKPT-PARAMS", "DIVISION-OPEN"}


@pytest.fixture
def shm_data():
    # Checkpoints on tmpfs, results under /tmp: two filesystems.
    path = Path("/dev/shm") / f"mlps-ckpt-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def campaign(inventory, results: Path, data: Path, **extra) -> PlaybookRun:
    extra_vars = {"mlps_results_dir": str(results), "mlps_data_dir": str(data), **TINY, **extra}
    return run_playbook("run_checkpointing.yml", inventory, extra_vars, timeout=900)


def workload(results: Path, division: str = "open") -> Path:
    return results / division / "mlps" / "results" / "test-sys" / "checkpointing" / "llama3-8b"


def metadata(leaf: Path) -> dict:
    return json.loads((leaf / f"checkpointing_{leaf.name}_metadata.json").read_text())


def check_tree(results: Path, hosts: list[str], ranks: int) -> list[Path]:
    """Two leaves (writes, then reads after a cache drop) with every file the rules ask for."""
    leaves = sorted(p for p in workload(results).iterdir() if p.is_dir())
    assert len(leaves) == 2
    write, read = leaves
    for leaf, kind, writes, reads in ((write, "write", 10, 0), (read, "read", 0, 10)):
        meta = metadata(leaf)
        names = {p.name for p in leaf.iterdir()}
        assert meta["status"] == "completed", meta.get("message")
        assert meta["invocation"]["name"] == kind
        assert (meta["engine"], meta["size_scale"], meta["num_processes"]) == ("native", SCALE, ranks)
        assert meta["ranks_per_host"] == {host: ranks // len(hosts) for host in hosts}
        assert meta["argv"][0].endswith("mpirun") and "--probe-dlio" not in meta["argv"]
        assert meta["versions"]["dlio_benchmark"] == "2.0.0" and meta["versions"]["mpi"]
        assert "has no checkpoint-only workload" in meta["engine_reason"]
        assert meta["invocation_start_time"] < meta["invocation_end_time"]
        assert {"summary.json", "dlio.log", "dlio_config", "checkpointing_run.stdout.log",
                "checkpointing_run.stderr.log", "fs_separation.json", "cluster_info.json"} <= names
        assert {f"{rank}_output.json" for rank in range(ranks)} <= names
        assert {f"{rank}_per_epoch_stats.json" for rank in range(ranks)} <= names
        assert {p.name for p in (leaf / "dlio_config").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}
        summary = json.loads((leaf / "summary.json").read_text())
        assert (summary["num_accelerators"], summary["num_hosts"]) == (ranks, len(hosts))
        assert (summary["num_checkpoints_write"], summary["num_checkpoints_read"]) == (writes, reads)
        prefix = "save" if kind == "write" else "load"
        assert summary["metric"][f"{prefix}_checkpoint_io_mean_GB_per_second"] > 0
        series = leaf / f"checkpointing_{leaf.name}_timeseries"
        assert sorted(p.stem for p in series.iterdir()) == sorted(hosts)
        assert meta["progress"][f"{'writes' if kind == 'write' else 'reads'}_done"] == 10
    # bytes written per rank add up to the checkpoint size x the scale: ZeRO-3 splits the same model over
    # however many ranks there are (only the per-rank optimizer header and the flooring differ)
    outputs = [json.loads((write / f"{rank}_output.json").read_text()) for rank in range(ranks)]
    per_rank = [out["bytes_per_checkpoint"] for out in outputs]
    assert all(sum(f["bytes"] for f in out["files"]) == out["bytes_per_checkpoint"] for out in outputs)
    assert sum(per_rank) == pytest.approx(CKPT_8B * SCALE, rel=2e-5)
    assert sum(per_rank) == metadata(write)["checkpoint_plan_bytes"]
    assert sorted({out["hostname"] for out in outputs}) == sorted(metadata(write)["ranks_per_host"]) or \
        len(hosts) == 1
    # the cache was dropped on every client between the writes and the reads, and the read started soon
    drop = json.loads((read / "drop_caches.json").read_text())
    assert sorted(drop["hosts"]) == sorted(hosts)
    assert all(h["dropped"] and h["cached_after_bytes"] is not None for h in drop["hosts"].values())
    assert metadata(read)["drop_caches"] == "drop_caches.json" and not (write / "drop_caches.json").exists()
    ended = metadata(write)["invocation_end_time"]
    started = metadata(read)["invocation_start_time"]
    gap = (datetime.fromisoformat(started) - datetime.fromisoformat(ended)).total_seconds()
    assert 0 < gap <= 30, gap
    figures = json.loads((workload(results) / "results.json").read_text())
    assert figures["runs"] == [write.name, read.name]
    assert figures["results"]["write_bw_GiB_per_second"] > 0 and figures["results"]["read_bw_GiB_per_second"] > 0
    return leaves


def check_verdict(run: PlaybookRun, results: Path) -> None:
    (final,) = run.results("Print the verdict of the campaign").values()
    lines = final["msg"]
    assert lines[0].startswith("verdict of the campaign: OPEN"), lines
    rules = {line.split(":", 1)[0].split()[-1] for line in lines[1:]}   # "OPEN    CKPT-ENGINE: ..."
    assert rules == EXPECTED_OPEN, lines
    assert any("native MPI engine" in line for line in lines) and any("scaled by 0.0001" in line for line in lines)
    (where,) = run.results("Say where the results are").values()
    assert where["msg"][0] == f"results: {workload(results)}"


def test_campaign_on_localhost(tmp_path, client_venv, shm_data):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, mlps_venv=str(client_venv),
                   mlps_checkpointing_processes=4, mlps_checkpointing_max_ranks_per_host=4)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    check_tree(results, ["localhost"], 4)
    check_verdict(run, results)
    assert "write: checkpointing done: writes 10/10, reads 0/0" in run.stdout
    # the verdict after each invocation: its headline, then only what changed
    assert run.stdout.count("verdict after write: ") == 1 and run.stdout.count("verdict after read: ") == 1
    assert "read: checkpointing done: writes 0/0, reads 10/10" in run.stdout
    # the preflight checked the checkpoint folder's filesystem for the scaled bytes, and the engine
    preflight = json.loads((results / "preflight.json").read_text())
    assert preflight["plan"]["data_bytes"] == preflight_bytes("llama3-8b", 4, scale=SCALE, writes=10)
    rows = {row["name"]: row for row in preflight["checks"]}
    assert rows["data_capacity"]["ok"] and "scale 0.0001" in rows["data_capacity"]["expected"]
    assert f"in {shm_data}/checkpoints/llama3-8b" in preflight["plan"]["source"]
    assert rows["checkpoint_engine"]["ok"] and rows["checkpoint_engine"]["found"] == "native engine (OPEN only)"
    # the checkpoint files are cleaned up from the client
    assert not list((shm_data / "checkpoints" / "llama3-8b").glob("global_epoch1_step*"))


def bad_input(tmp_path, client_venv, data, **extra) -> str:
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, data, mlps_venv=str(client_venv), mlps_preflight_skip=True,
                   mlps_checkpointing_facts=False, **extra)
    assert run.rc != 0
    (message,) = run.messages()
    # stopped before writing: no leaf, no checkpoint file
    assert not workload(results).exists() or not any(workload(results).iterdir())
    assert not list(data.glob("checkpoints/*/global_epoch1_step*"))
    return message


def test_a_process_count_the_model_cannot_use_stops_before_writing(tmp_path, client_venv, shm_data):
    message = bad_input(tmp_path, client_venv, shm_data, mlps_checkpointing_model="llama3-70b",
                        mlps_checkpointing_processes=12)
    assert "llama3-70b with 12 processes: the count must be a multiple of TP x PP = 8 x 1 = 8" in message


def test_too_few_hosts_for_the_ranks_stops_before_writing(tmp_path, client_venv, shm_data):
    message = bad_input(tmp_path, client_venv, shm_data, mlps_checkpointing_processes=8,
                        mlps_checkpointing_max_ranks_per_host=2)
    assert "8 processes on 1 host(s): too few hosts for the ranks: localhost would run 8 (limit 2)" in message
    assert "at least 4 hosts" in message


def test_a_checkpoint_folder_without_room_stops_before_writing(tmp_path, client_venv, shm_data):
    # full size: 8 ranks x 13.1 GiB x 10 checkpoints does not fit in this machine's /dev/shm
    message = bad_input(tmp_path, client_venv, shm_data, mlps_checkpointing_scale=1.0,
                        mlps_checkpointing_processes=8, mlps_checkpointing_max_ranks_per_host=8)
    need = CKPT_8B * 10
    assert f"has no room for 10 checkpoints of llama3-8b ({CKPT_8B} bytes each at scale 1)" in message
    assert f"localhost: {need} bytes" in message and "free" in message


def test_forced_dlio_engine_says_the_installed_dlio_lacks_the_workload(tmp_path, client_venv, shm_data):
    message = bad_input(tmp_path, client_venv, shm_data, mlps_checkpointing_engine="dlio",
                        mlps_checkpointing_scale=1.0, mlps_checkpointing_processes=1)
    assert "mlps_checkpointing_engine=dlio: the installed DLIO 2.0.0 has no checkpoint-only workload" in message


def test_preflight_says_the_installed_dlio_lacks_the_workload_for_a_forced_dlio_engine(tmp_path, client_venv,
                                                                                     shm_data):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, mlps_venv=str(client_venv), mlps_checkpointing_facts=False,
                   mlps_checkpointing_engine="dlio", mlps_checkpointing_scale=1.0, mlps_checkpointing_processes=1,
                   mlps_checkpointing_num_checkpoints_write=1, mlps_checkpointing_num_checkpoints_read=1)
    assert run.rc != 0
    (message,) = run.messages()
    # both problems in one report: DLIO's missing workload, and no room for a full-size (unscaled) checkpoint
    assert "preflight failed: 2 of " in message
    assert "checkpoint_engine on localhost; data_capacity on localhost" in message
    failed = {r["name"]: r for r in json.loads((results / "preflight.json").read_text())["checks"] if r["ok"] is False}
    assert sorted(failed) == ["checkpoint_engine", "data_capacity"]
    row = failed["checkpoint_engine"]
    assert (row["host"], row["found"]) == ("localhost", "lacks it")
    assert "the installed DLIO 2.0.0 has no checkpoint-only workload" in row["detail"]
    assert "mlps_checkpointing_engine=native" in row["fix"] and "MLCommons' DLIO build" in row["fix"]
    # stopped before the campaign: no leaf, no checkpoint file
    assert not workload(results, "closed").exists() and not list(shm_data.glob("checkpoints/*/global_epoch1_step*"))


def test_preflight_stops_a_checkpoint_folder_without_room_before_the_campaign(tmp_path, client_venv, shm_data):
    # the full-size plan (scale 1) of 8 ranks x 10 writes does not fit in this machine's /dev/shm
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, mlps_venv=str(client_venv), mlps_checkpointing_facts=False,
                   mlps_checkpointing_scale=1.0, mlps_checkpointing_processes=8)
    assert run.rc != 0
    (row,) = [r for r in json.loads((results / "preflight.json").read_text())["checks"] if not r["ok"]]
    assert (row["name"], row["host"]) == ("data_capacity", "localhost")
    assert f"{shm_data}/checkpoints/llama3-8b on localhost" in row["detail"]
    assert f"the plan needs {CKPT_8B * 10 / 2**30:.2f} GiB" in row["detail"]
    assert "mlps_checkpointing_folder" in row["fix"]
    assert not workload(results, "closed").exists()


@pytest.mark.cluster
def test_campaign_on_three_hosts(cluster3, cluster_venv, tmp_path, shm_data):
    results = tmp_path / "results"
    run = campaign(cluster3.inventory, results, shm_data,
                   **cluster_vars(mlps_checkpointing_processes=12, mlps_checkpointing_max_ranks_per_host=4,
                                  mlps_checkpointing_time_between_checkpoints=2.5))
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    hosts = [line.split()[0] for line in cluster3.inventory.read_text().splitlines() if "ansible_host=" in line]
    assert len(hosts) == 3
    write, _read = check_tree(results, hosts, 12)
    ranks_on = {json.loads((write / f"{rank}_output.json").read_text())["hostname"] for rank in range(12)}
    assert len(ranks_on) == 3                      # the ranks really ran on three hosts
    check_verdict(run, results)


def test_sigint_mid_invocation_stops_it_on_the_host_and_marks_the_leaf_interrupted(tmp_path, client_venv, shm_data):
    # the checkpointing action's phase_start/phase_end results follow callback_plugins/mlps_leaves.py's shape,
    # and the launch carries a lease (mlps_mpirun lease_file) that stops it once nobody follows it
    results = tmp_path / "results"
    staging = f"/var/tmp/mlps-ckpt-fault-{uuid.uuid4().hex[:8]}"
    extra = {"mlps_results_dir": str(results), "mlps_data_dir": str(shm_data), **TINY, "mlps_venv": str(client_venv),
             "mlps_checkpointing_staging_dir": staging, "mlps_checkpointing_processes": 2,
             "mlps_checkpointing_time_between_checkpoints": 2, "mlps_checkpointing_facts": False}
    proc = live.start("run_checkpointing.yml", LOCAL_INVENTORY, extra, tmp_path / "run.log")
    try:
        live.wait_for(lambda: "write: writes 1/10" in (tmp_path / "run.log").read_text(), 300, "the first write")
        proc.send_signal(signal.SIGINT)
        rc = live.finish(proc, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc != 0
    # the ranks carry the staging folder in their argv, the samplers hold their series open under it
    live.wait_for(lambda: not live.processes(staging), 30, "the launch and the samplers to stop")
    (leaf,) = sorted(p for p in workload(results).iterdir() if p.is_dir())
    meta = metadata(leaf)
    assert meta["status"] == "interrupted", meta
    assert meta["invocation"]["name"] == "write" and "interrupted" in meta["message"]
    shutil.rmtree(staging, ignore_errors=True)
