"""`mlps slurm`: the request checks, sbatch's argv, the job folder and the record parsers
(mlps/slurm/job.py). The real submission runs in tests/integration/test_slurm_campaign.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlps.cli import main
from mlps.errors import UserError
from mlps.slurm import job

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "run_training.yml"


@pytest.mark.parametrize("kwargs, said", [
    ({"playbook": ROOT / "playbooks" / "nope.yml"}, "no such file"),
    ({"nodes": 0}, "--nodes 0: expected a whole number of nodes"),
    ({"partition": "debug;rm"}, "--partition"),
    ({"time_limit": "soon"}, "--time 'soon': expected a Slurm time limit"),
    ({"account": "../x"}, "--account"),
])
def test_a_bad_request_is_refused_naming_the_input(kwargs, said):
    request = {"playbook": PLAYBOOK, "nodes": 2, "partition": None, "time_limit": None, "account": None, **kwargs}
    with pytest.raises(UserError, match=said.replace("(", r"\(")):
        job.check_request(**request)


@pytest.mark.parametrize("limit", ["30", "1:30:00", "2-00:00:00", "UNLIMITED", "10:00"])
def test_slurm_time_limits_pass(limit):
    job.check_request(PLAYBOOK, 1, "debug", limit, None)


def test_sbatch_argv_keeps_ansible_args_as_script_arguments(tmp_path):
    argv = job.sbatch_argv(sbatch="/usr/bin/sbatch", job_dir=tmp_path, workdir=ROOT, playbook=PLAYBOOK, nodes=4,
                           partition="debug", time_limit="1:00:00", account=None, wait=True,
                           sbatch_args=["--exclusive"], playbook_args=["-e", "mlps_training_runs=2; reboot"])
    assert argv[:2] == ["/usr/bin/sbatch", "--parsable"]
    assert argv[argv.index("--nodes") + 1] == "4" and argv[argv.index("--partition") + 1] == "debug"
    assert argv[argv.index("--output") + 1] == f"{tmp_path}/slurm-%j.out" and "--wait" in argv
    assert "--account" not in argv
    script = argv.index(str(tmp_path / job.SCRIPT_NAME))
    assert argv[script - 1] == "--exclusive"  # sbatch's own arguments come before the script
    assert argv[script + 1:] == [str(PLAYBOOK), "-e", "mlps_training_runs=2; reboot"]  # one argument each


def test_the_job_folder_is_new_every_time(tmp_path):
    first, second = job.make_job_dir(tmp_path, PLAYBOOK), job.make_job_dir(tmp_path, PLAYBOOK)
    assert first != second and first.parent == second.parent == tmp_path / "slurm"
    assert first.name.endswith("-run_training") and second.name.endswith("-run_training-2")


def test_the_inventory_is_the_users_plugin_file_or_the_default(tmp_path):
    assert job.inventory_text(None) == "plugin: mlps_slurm\n"
    mine = tmp_path / "mine.mlps_slurm.yml"
    mine.write_text("plugin: mlps_slurm\nhost_vars:\n  ansible_user: alice\n")
    assert "alice" in job.inventory_text(mine)
    mine.write_text('{"plugin": "mlps_slurm", "host_vars": {"ansible_user": "bob"}}')  # JSON is YAML too
    assert "bob" in job.inventory_text(mine)
    mine.write_text("plugin: constructed\n")
    with pytest.raises(UserError, match="expected a YAML mapping with `plugin: mlps_slurm`"):
        job.inventory_text(mine)
    with pytest.raises(UserError, match="readable"):
        job.inventory_text(tmp_path / "missing.yml")


def test_scontrol_and_sacct_output_are_read():
    fields = job.parse_scontrol("JobId=42 JobName=mlps-run_training UserId=root(0) JobState=RUNNING "
                                "NodeList=h[1-2] NumNodes=2 Partition=debug")
    assert fields["JobId"] == "42" and fields["JobState"] == "RUNNING" and fields["NodeList"] == "h[1-2]"
    names = job.SACCT_FIELDS.split(",")
    row = "|".join(["42", "mlps-run_training", "COMPLETED", "0:0", "00:01:02", "", "", "h[1-2]", "4", "2", "", "",
                    ""])
    parsed = job.parse_sacct(row + "\nnot a row\n")
    assert len(parsed) == 1 and parsed[0]["State"] == "COMPLETED" and list(parsed[0]) == names


def test_the_record_is_written_once(tmp_path, monkeypatch):
    monkeypatch.setattr(job, "_run", lambda argv: (0, "JobId=7 JobState=COMPLETED") if "scontrol" in argv[0]
                        else (1, "sacct: error: Slurm accounting storage is disabled"))
    path = job.record("7", tmp_path, 0)
    written = path.read_text()
    assert '"JobState": "COMPLETED"' in written and "accounting storage is disabled" in written
    with pytest.raises(UserError, match="written once"):
        job.record("7", tmp_path, 0)
    with pytest.raises(UserError, match="expected a Slurm job id"):
        job.record("7; true", tmp_path, 0, name="other.json")


def test_submit_without_sbatch_is_one_line_and_writes_nothing(tmp_path, capsys):
    rc = main(["slurm", "submit", str(PLAYBOOK), "-N", "2", "--results", str(tmp_path), "--sbatch",
               "/nonexistent/sbatch", "--", "-e", "x=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 4 and len(err.splitlines()) == 1 and "/nonexistent/sbatch: not found" in err
    assert not (tmp_path / "slurm").exists()


def test_only_a_command_that_runs_a_program_takes_arguments_after_the_double_dash(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["verify", "/nonexistent", "--", "-e", "x=1"])
    assert stopped.value.code == 2 and "verify takes no arguments after --" in capsys.readouterr().err


def test_without_accounting_the_completion_log_is_read(tmp_path, monkeypatch):
    def run(argv):
        if "scontrol" in argv[0]:
            return 0, "JobId=8 JobState=COMPLETED"
        if "--completion" in argv:
            return 0, "8|mlps-run_training|COMPLETED|00:00:41|2026-12-03T10:00:00|2026-12-03T10:00:41|h[1-3]\n"
        return 1, "sacct: error: Slurm accounting storage is disabled"
    monkeypatch.setattr(job, "_run", run)
    written = json.loads(job.record("8", tmp_path, 0).read_text())
    assert written["sacct"] == [{"JobID": "8", "JobName": "mlps-run_training", "State": "COMPLETED",
                                 "Elapsed": "00:00:41", "Start": "2026-12-03T10:00:00",
                                 "End": "2026-12-03T10:00:41", "NodeList": "h[1-3]"}]
