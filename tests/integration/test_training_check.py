"""`--check` through the ansible-runner command line, as a CI pipeline would drive it: the plan and
the exact mpirun command of every phase are printed, nothing is written or launched."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.playbook import ROOT
from tests.venvs import LOCAL_INVENTORY

pytestmark = pytest.mark.integration


def test_check_prints_the_plan_and_every_mpirun_command_and_writes_nothing(tmp_path, client_venv):
    results, data = tmp_path / "results", Path("/dev/shm") / f"mlps-check-{uuid.uuid4().hex[:8]}"
    private = tmp_path / "runner"
    bin_dir = Path(sys.executable).parent
    cmdline = ["--check", "-e", f"mlps_venv={client_venv}", "-e", f"mlps_results_dir={results}",
               "-e", f"mlps_data_dir={data}", "-e", "mlps_training_accelerators_per_host=2",
               # the rules-sized plan needs ~1 TB; a what-if must still show it, so no capacity preflight
               "-e", "mlps_preflight_skip=true"]
    proc = subprocess.run(
        [str(bin_dir / "ansible-runner"), "run", str(private), "--project-dir", str(ROOT),
         "-p", "playbooks/run_training.yml", "--inventory", str(LOCAL_INVENTORY), "--cmdline", " ".join(cmdline),
         # the job events and artifacts land beside the results, where a CI job collects them
         "--artifact-dir", str(results / "runner"), "--ident", "what-if"],
        capture_output=True, text=True, timeout=600, check=False,
        env=dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not data.exists()
    # only the runner's artifacts: the skip is reported, not recorded, in check mode
    assert sorted(p.name for p in results.iterdir()) == ["runner"]
    assert f"would be recorded (--check) in {results}/preflight.json" in " ".join(proc.stdout.split())
    assert (results / "runner" / "what-if" / "rc").read_text().strip() == "0"
    events = [json.loads(p.read_text()) for p in results.glob("runner/what-if/job_events/*.json")]
    shown = [e["event_data"]["res"]["msg"] for e in events
             if e.get("event") == "runner_on_ok" and "Show the leaf and the mpirun command" in
             e["event_data"].get("task", "")]
    commands = [m[1] for m in shown]
    assert len(commands) == 7  # datagen, warm-up and 5 measured runs
    assert all(c.startswith(f"{client_venv}/bin/mpirun -np 2 --host localhost:2") for c in commands)
    assert all("dlio_benchmark" in c and "workload=unet3d" in c for c in commands)
    assert "num_files_train" in proc.stdout and "planned from measured memory" in proc.stdout
