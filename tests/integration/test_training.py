"""The whole training campaign for real (playbooks/run_training.yml): real facts, mpirun, DLIO 2.0.0
on a tiny unet3d dataset, samplers, the results tree and the verdict; on localhost and on the
3-host namespace cluster. The localhost campaign is the whole one, 7 DLIO invocations (datagen +
warm-up + 5), about 3 min; the 3-host one stops after warm-up + 1 run (what differs across hosts is
in every run, and the molecule scenario of the role covers two more)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import LOCAL_INVENTORY, cluster_vars

pytestmark = [pytest.mark.integration]

TINY = {
    "mlps_training_num_files_train": 16,
    "mlps_training_accept_undersized": True,
    "mlps_training_datagen": "always",
    "mlps_training_poll_interval": 2,
    # a rank that dies can leave the others waiting in a collective: bound the test's runs
    "mlps_training_run_timeout": 300,
    "mlps_training_datagen_timeout": 300,
    "mlps_training_overrides": {"reader.read_threads": 1},
    "mlps_training_extra_overrides": {
        "dataset.record_length": 1048576, "dataset.record_length_stdev": 0,
        "dataset.record_length_resize": 1048576, "reader.batch_size": 2, "train.epochs": 2,
        "train.computation_time": 0.01,
    },
}


@pytest.fixture
def shm_data():
    # Data on tmpfs, results under /tmp: two filesystems, as SYS-FS-SEPARATION wants.
    path = Path("/dev/shm") / f"mlps-test-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def campaign(inventory, results: Path, data: Path, **extra) -> PlaybookRun:
    extra_vars = {"mlps_results_dir": str(results), "mlps_data_dir": str(data),
                  "mlps_training_system": "test-sys", **TINY, **extra}
    # ansible-runner's Python API, its artifacts kept beside the results as a CI job would
    return run_playbook("run_training.yml", inventory, extra_vars, timeout=1200, artifact_dir=results / "runner")


def workload(results: Path) -> Path:
    return results / "closed" / "mlps" / "results" / "test-sys" / "training" / "unet3d"


def leaves(results: Path, command: str) -> list[Path]:
    return sorted(p for p in (workload(results) / command).iterdir() if p.is_dir())


def metadata(leaf: Path) -> dict:
    return json.loads((leaf / f"training_{leaf.name}_metadata.json").read_text())


def check_tree(results: Path, hosts: list[str], ranks: int, files: int = 16, runs: int = 6) -> list[Path]:
    """The shape every campaign of `runs` runs (warm-up included) leaves; returns the run leaves."""
    assert len(leaves(results, "datasize")) == 1
    (datasize,) = leaves(results, "datasize")
    planned = metadata(datasize)
    assert planned["parameters"]["dataset"]["num_files_train"] == files
    assert planned["plan"]["undersized"] is True
    assert (datasize / "cluster_info.json").is_file()
    (datagen,) = leaves(results, "datagen")
    assert metadata(datagen)["status"] == "completed"
    wanted = {"dlio.log", "training_datagen.stdout.log", "training_datagen.stderr.log"}
    assert wanted <= {p.name for p in datagen.iterdir()}
    done = leaves(results, "run")
    assert len(done) == runs
    for leaf in done:
        meta = metadata(leaf)
        names = {p.name for p in leaf.iterdir()}
        assert meta["status"] == "completed", meta.get("message")
        assert {"summary.json", "per_epoch_stats.json", "dlio.log", ".hydra", "training_run.stdout.log",
                "training_run.stderr.log", "fs_separation.json", "cluster_info.json"} <= names
        assert {f"{rank}_output.json" for rank in range(ranks)} <= names
        assert meta["argv"][0].endswith("mpirun") and "workload=unet3d_h100" in meta["argv"]
        assert meta["versions"]["dlio_benchmark"] == "2.0.0" and meta["versions"]["mpi"]
        assert meta["ranks_per_host"] == {host: ranks // len(hosts) for host in hosts}
        assert meta["undersized"] is True and meta["submittable"] is False
        assert meta["timings"]["mpirun_seconds"] > 0
        # the preflight ran (not skipped), and its report travels with every leaf
        assert meta["preflight"] == {"skipped": False, "reason": "", "report": "preflight.json"}
        assert json.loads((leaf / "preflight.json").read_text())["ok"] is True
        assert meta["campaign_id"] == planned["campaign_id"]
        series = leaf / f"training_{leaf.name}_timeseries"
        assert sorted(p.stem for p in series.iterdir()) == sorted(hosts)
        for host in hosts:
            lines = (series / f"{host}.jsonl").read_text().splitlines()
            assert len(lines) >= 2 and json.loads(lines[-1])["host"] == host
        summary = json.loads((leaf / "summary.json").read_text())
        assert (summary["num_accelerators"], summary["num_hosts"], summary["num_files_train"]) == \
            (ranks, len(hosts), files)
    results_json = json.loads((workload(results) / "run" / "results.json").read_text())
    assert results_json["warmup"] == done[0].name and len(results_json["runs"]) == runs - 1
    assert results_json["results"]["simulated_accelerators"] == ranks
    return done


def verdict_lines(run: PlaybookRun) -> list[str]:
    (final,) = run.results("Print the verdict (of the campaign)").values()
    return final["msg"]


def check_verdict(run: PlaybookRun, results: Path, also: frozenset = frozenset()) -> None:
    lines = verdict_lines(run)
    assert lines[0].startswith("verdict of the campaign: INVALID")
    rules = {line.split(":", 1)[0].split()[-1] for line in lines[1:]}     # "OUTCOME RULE: message ..."
    # What the tiny demo breaks on purpose (undersized, test-only overrides, tiny compute -> AU,
    # runs shorter than the gaps between them) and unet3d/h100 being what-if in 3.0 - nothing else.
    assert rules <= {"TRAIN-DATASIZE", "TRAIN-PARAMS", "TRAIN-AU", "TRAIN-RUNS-GAP", "TRAIN-MODEL"} | also, rules
    assert "TRAIN-DATASIZE" in rules and "TRAIN-PARAMS" in rules
    (where,) = run.results("Say where the results are").values()
    assert where["msg"][0] == f"results: {workload(results)}"


def test_campaign_on_localhost(tmp_path, client_venv, shm_data):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, mlps_venv=str(client_venv),
                   mlps_training_accelerators_per_host=2)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    check_tree(results, ["localhost"], 2)
    check_verdict(run, results)
    # progress lines were printed while DLIO ran
    assert "training done: 2 epochs" in run.stdout
    assert (results / "cluster_info_start.json").is_file() and (results / "cluster_info_end.json").is_file()
    # the report play ran at the end: tables, the HTML page and the submission-shaped folder
    report = results / "report"
    assert {"results.json", "results.csv", "report.html"} <= {p.name for p in report.iterdir()}
    assert "unet3d" in (report / "results.csv").read_text()
    (job,) = (results / "runner").iterdir()
    assert (job / "rc").read_text().strip() == "0" and len(list((job / "job_events").glob("*.json"))) > 100
    assert (report / "closed" / "mlps" / "submission.yaml").is_file()


def test_undersized_without_consent_stops_before_any_io(tmp_path, client_venv, shm_data):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, mlps_venv=str(client_venv),
                   mlps_training_accept_undersized=False)
    assert run.rc != 0
    (message,) = run.messages()
    assert "mlps_training_num_files_train=16 is below what the rules need" in message, message
    assert "TRAIN-DATASIZE" in message
    assert not (workload(results) / "datagen").exists() and not (workload(results) / "run").exists()


@pytest.mark.cluster
def test_campaign_on_three_hosts(cluster3, cluster_venv, tmp_path, shm_data):
    results = tmp_path / "results"
    # 18 files: DLIO 2.0.0 fails on a rank (IndexError in get_global_map_index) when 16 files are
    # read by 3 ranks, so the file count is a multiple of ranks x batch size
    run = campaign(cluster3.inventory, results, shm_data,
                   **cluster_vars(mlps_training_accelerators_per_host=1, mlps_training_num_files_train=18,
                                  mlps_training_runs=2))
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    hosts = [line.split()[0] for line in cluster3.inventory.read_text().splitlines() if "ansible_host=" in line]
    assert len(hosts) == 3
    runs = check_tree(results, hosts, 3, files=18, runs=2)
    shared = json.loads((runs[0] / "shared_fs.json").read_text())
    assert sorted(shared["hosts"]) == sorted(hosts)
    assert len({h["st_ino"] for h in shared["hosts"].values()}) == 1
    check_verdict(run, results, also=frozenset({"TRAIN-RUNS-COUNT"}))   # 1 run of the 5 the rules want
