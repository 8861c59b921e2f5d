"""mlps.campaign.phase and mlps.campaign.resume: one phase's record from start to end, and picking up a
campaign that stopped early."""

from __future__ import annotations

import json
import re

import pytest

from mlps.campaign import frame, phase, resume, training
from tests.archives import make_tar

DLIO = {"dlio": "/v/bin/dlio_benchmark", "config_dir": "/s/configs/dlio", "workload": "unet3d_h100",
        "data_folder": "/data/unet3d", "num_files_train": 16, "num_subfolders_train": 0,
        "checkpoint_folder": "/data/ckpt", "tunables": {}, "extra": {"train.epochs": 2}}
MPI = {"mpirun": "/v/bin/mpirun", "implementation": "openmpi", "np": 4, "hosts": ["h1", "h2"], "as_root": True,
       "rsh_agent": None, "prefix": "/v", "mca": {}, "env": ["TF_CPP_MIN_LOG_LEVEL", "MY_TOKEN"]}
PLAN = {"model": "unet3d", "accelerator": "h100", "num_accelerators": 4, "hosts": ["h1", "h2"],
        "num_files_train": 16, "num_subfolders_train": 0, "epochs": 2, "record_length": 1048576, "format": "npz"}


def start(tmp_path, index=1, check=False):
    return training.start_phase(workload_dir=tmp_path / "wl", command="run", index=index, runs=6, staging_dir="/s",
                       dlio=DLIO, mpi=MPI, context={"campaign_id": "C1", "plan": PLAN}, files={"x.json": {"a": 1}},
                       copies={}, check=check)


def meta(leaf) -> dict:
    return json.loads((leaf / training.metadata_name(leaf.name)).read_text())


def test_start_records_the_exact_command_lines_and_running(tmp_path):
    began = start(tmp_path)
    leaf = tmp_path / "wl" / "run" / began["stamp"]
    record = meta(leaf)
    assert record["status"] == "running" and record["warmup"] is True and record["campaign_id"] == "C1"
    assert record["argv"] == began["cmd"] and began["cmd"][:3] == ["/v/bin/mpirun", "-np", "4"]
    assert "h1:2,h2:2" in began["cmd"] and "--allow-run-as-root" in began["cmd"]
    # variables travel by name only: no value on the command line
    assert began["cmd"].count("-x") == 2 and "MY_TOKEN" in began["cmd"]
    assert f"hydra.run.dir={began['stage']}/dlio" in began["dlio_argv"]
    assert began["marker"] == f"{began['stage']}/dlio" and began["label"] == "run 1/6 (warm-up)"
    assert re.fullmatch(rf"/s/run-{began['stamp']}-[0-9a-f]{{8}}", began["stage"])
    assert json.loads((leaf / "x.json").read_text()) == {"a": 1}


def test_start_in_check_mode_writes_nothing(tmp_path):
    began = start(tmp_path, index=3, check=True)
    assert began["changed"] is False and began["label"] == "run 3/6"
    assert not (tmp_path / "wl").exists()


def test_end_routes_outputs_and_names_the_lost_host_and_phase(tmp_path):
    began = start(tmp_path, index=2)
    leaf = tmp_path / "wl" / "run" / began["stamp"]
    archives = {
        "h1": make_tar(tmp_path / "h1.tar", {"dlio/summary.json": "{}", "timeseries/h1.jsonl": "{}\n"}),
        "h2": make_tar(tmp_path / "h2.tar", {"dlio/summary.json": "{\"from\": 2}", "timeseries/h2.jsonl": "{}\n"}),
    }
    job = {"finished": True, "failed": True, "rc": -15, "lost_hosts": ["h2"], "delta": "12.5",
           "msg": "host h2 stopped answering during the launch"}
    ended = training.end_phase(leaf=leaf, stamp=began["stamp"], phase_label=began["label"], hosts=["h1", "h2"],
                      launcher="h1", archives=archives, job=job, waited={"waited": 13}, samples={"h1": 12},
                      drop_evidence={}, unreachable=[])
    assert ended["status"] == "failed"
    assert ended["message"].startswith("run 2/6 failed on h2 (host lost during the run)")
    record = meta(leaf)
    assert record["failure"] == {"phase": "run 2/6", "hosts": ["h2"], "lost_hosts": ["h2"],
                                 "reason": "host h2 stopped answering during the launch"}
    assert record["timings"]["mpirun_seconds"] == 12.5 and record["timeseries_hosts"] == {"h1": 12, "h2": 0}
    # the launcher's copy wins; time series land in their folder; nothing outside the routes
    assert json.loads((leaf / "summary.json").read_text()) == {}
    assert (leaf / phase.series_dir("training", began["stamp"]) / "h2.jsonl").is_file()
    assert not (tmp_path / "h1.tar").exists()  # archives are removed once unpacked


@pytest.mark.parametrize(("job", "status"), [
    ({"rc": 0, "failed": False}, "completed"), ({"rc": 1, "failed": True}, "failed"),
    ({"timed_out": True, "rc": -15}, "timed_out"), ({"interrupted": True, "rc": -15}, "interrupted"),
    ({}, "failed")])
def test_status_of_a_job(job, status):
    assert phase.status_of(job) == status


def _runs(tmp_path, statuses, campaign_id="C1", plan=None):
    workload = tmp_path / "wl"
    for number, status in enumerate(statuses, start=1):
        stamp = f"20260101_0000{number:02d}"
        leaf = workload / "run" / stamp
        leaf.mkdir(parents=True)
        frame.write_json_atomic(leaf / training.metadata_name(stamp),
                                   {"status": status, "campaign_id": campaign_id, "plan": plan or PLAN})
    return workload


def test_stale_running_leaves_become_interrupted(tmp_path):
    workload = _runs(tmp_path, ["completed", "running"])
    marked = resume.mark_stale(workload)
    assert [p.rsplit("/", 1)[1] for p in marked] == ["20260101_000002"]
    assert meta(workload / "run" / "20260101_000002")["status"] == "interrupted"
    assert resume.mark_stale(workload) == []


def test_a_campaign_that_stopped_early_is_continued_from_the_next_run(tmp_path):
    workload = _runs(tmp_path, ["completed", "completed", "interrupted"])
    point = resume.resume_point(workload, PLAN, runs=6)
    assert (point["resume"], point["campaign_id"], point["first_index"], point["completed"]) == (True, "C1", 3, 2)


@pytest.mark.parametrize(("statuses", "plan_change"), [
    (["completed"] * 6, {}),                                   # finished: a new campaign
    (["completed", "interrupted"], {"num_files_train": 32}),   # another plan: a new campaign
    (["completed", "completed"], {}),                          # nothing stopped early (still going elsewhere?)
])
def test_no_continuation_when_finished_or_different(tmp_path, statuses, plan_change):
    workload = _runs(tmp_path, statuses)
    assert resume.resume_point(workload, {**PLAN, **plan_change}, runs=6)["resume"] is False


@pytest.mark.parametrize(("content", "why"), [
    (None, "not a readable uncompressed tar"),
    ({"dlio/summary.json": "{}", f"dlio/{training.metadata_name('x')}": "{}"}, "is not a file this host's phase"),
    ({"dlio/summary.json": "{}", "timeseries/h1.jsonl": "{\"forged\": 1}\n"}, "is not a file this host's phase"),
])
def test_a_refused_archive_fails_the_phase_naming_the_host_and_leaves_no_incoming_file(tmp_path, content, why):
    began = start(tmp_path, index=2)
    leaf = tmp_path / "wl" / "run" / began["stamp"]
    bad = leaf / ".incoming-h2.tar"
    if content is None:
        bad.write_bytes(b"\x1f\x8b garbage, not a tar")  # tarfile.ReadError used to escape here
    else:
        make_tar(bad, content)
    archives = {"h1": make_tar(leaf / ".incoming-h1.tar", {"dlio/summary.json": "{}",
                                                           "timeseries/h1.jsonl": "{}\n"}),
                "h2": str(bad)}
    ended = training.end_phase(leaf=leaf, stamp=began["stamp"], phase_label=began["label"], hosts=["h1", "h2"],
                               launcher="h1", archives=archives, job={"rc": 0, "failed": False}, waited={},
                               samples={}, drop_evidence={}, unreachable=[])
    assert ended["status"] == "failed" and ended["message"].startswith("run 2/6 failed on h2: archive from h2 refused")
    record = meta(leaf)
    assert record["status"] == "failed" and record["failure"]["hosts"] == ["h2"]
    assert why in record["failure"]["reason"] and why in record["refused_archives"]["h2"]
    assert not list(leaf.glob(".incoming-*"))
    assert (leaf / phase.series_dir("training", began["stamp"]) / "h1.jsonl").read_text() == "{}\n"  # h1's own kept
