"""A local user on a shared client hijacks the staging folder (3-host cluster): as uid nobody they
create a 0777 base in /var/tmp, as anyone may, and plant symlinks to a file only root may write
where the campaign's root-run modules write (launch logs, lease, time series). Every module must
refuse with one line naming the folder, its owner and mode, and the victim must be untouched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
VICTIM_TEXT = "root:$6$victim:19000:0:99999:7:::\n"
RESULT = re.compile(r"^(\S+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.MULTILINE)


def on_host(cluster: Cluster, host: str, module: str, args: dict) -> tuple[str, dict]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(BIN / "ansible"), "-i", str(cluster.inventory), host, "-m", module,
                           "-a", json.dumps(args)], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=180, check=False)
    match = RESULT.search(proc.stdout)
    assert match and match.group(1) == host, proc.stdout + proc.stderr
    return match.group(2), json.JSONDecoder().raw_decode(proc.stdout, match.end())[0]


@pytest.fixture
def attack(cluster3: Cluster, tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text(VICTIM_TEXT)
    victim.chmod(0o600)
    base = Path("/var/tmp") / f"mlps-hostile-{uuid.uuid4().hex[:8]}"
    stage = base / "training" / "run"
    # The attacker's own commands, run as nobody on h2: nothing here is done as root.
    for argv in (["mkdir", "-m", "777", str(base)], ["mkdir", "-p", str(stage)],
                 *(["ln", "-s", str(victim), str(stage / name)]
                   for name in ("stdout.log", "stderr.log", "lease", "h2.jsonl"))):
        cluster3.ssh("h2", [*NOBODY, *argv])
    assert base.stat().st_uid == 65534 and (stage / "lease").is_symlink()
    yield {"cluster": cluster3, "victim": victim, "base": base, "stage": stage}
    shutil.rmtree(base, ignore_errors=True)


def refused(attack, status: str, result: dict) -> None:
    assert status == "FAILED!", result
    assert f"{attack['base']} is owned by uid 65534 with mode 0777" in result["msg"]
    assert "\n" not in result["msg"]
    assert attack["victim"].read_text() == VICTIM_TEXT


def test_staging_folder_under_a_hijacked_base_is_refused(attack):
    status, result = on_host(attack["cluster"], "h2", "mlps_staging",
                             {"path": str(attack["base"] / "training" / "unet3d-20260101_000000-1")})
    refused(attack, status, result)
    assert not (attack["base"] / "training" / "unet3d-20260101_000000-1").exists()


def test_launch_logs_and_lease_are_never_written_through_the_attackers_links(attack):
    stage = attack["stage"]
    status, result = on_host(attack["cluster"], "h2", "mlps_mpirun", {
        "command": ["true"], "np": 1, "hosts": ["h2"], "chdir": str(stage),
        "stdout_path": str(stage / "stdout.log"), "stderr_path": str(stage / "stderr.log"),
        "lease_file": str(stage / "lease")})
    refused(attack, status, result)


def test_time_series_is_never_written_through_the_attackers_link(attack):
    status, result = on_host(attack["cluster"], "h2", "mlps_sampler", {
        "output": str(attack["stage"] / "h2.jsonl"), "interval": 0.2, "max_samples": 2, "create_parent": True})
    refused(attack, status, result)


def test_a_base_of_our_own_in_var_tmp_is_created_0700_and_used(cluster3):
    base = Path("/var/tmp") / f"mlps-ok-{uuid.uuid4().hex[:8]}"
    try:
        status, result = on_host(cluster3, "h3", "mlps_staging", {"path": str(base / "training" / "c1")})
        assert status == "CHANGED", result
        assert base.stat().st_mode & 0o7777 == 0o700 and base.stat().st_uid == 0
        status, result = on_host(cluster3, "h3", "mlps_sampler", {
            "output": str(base / "training" / "c1" / "h3.jsonl"), "interval": 0.2, "max_samples": 2})
        assert status == "CHANGED" and result["samples"] == 2, result
    finally:
        shutil.rmtree(base, ignore_errors=True)
