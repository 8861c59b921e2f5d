"""Secrets: plant unique canaries as the become password, as a vault-encrypted variable
and as the value of an environment variable forwarded to the ranks (mlps_training_env), run the
tiny localhost training campaign, and look for every canary in every file of the results tree, in
ansible-runner's artifacts (job events, stdout) and in the playbook's stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import ansible_runner
import pytest

from tests.integration.playbook import BIN, ROOT
from tests.integration.test_training import TINY

pytestmark = [pytest.mark.integration]


def canary(kind: str) -> str:
    return f"mlpscanary{kind}{uuid.uuid4().hex}"


def vault_encrypt(value: str, name: str, password_file: Path) -> str:
    """`name: !vault |` YAML for value, from the real ansible-vault."""
    out = subprocess.run([str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file", str(password_file),
                          "--name", name, value], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout


def files_holding(root: Path, secrets: dict[str, str]) -> dict[str, list[str]]:
    """kind -> files under root whose bytes contain that canary."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        for kind, secret in secrets.items():
            if secret.encode() in data:
                found.setdefault(kind, []).append(str(path.relative_to(root)))
    return found


def test_no_canary_leaks_into_results_artifacts_or_stdout(tmp_path, client_venv):
    secrets = {"become": canary("become"), "vault": canary("vault"), "env": canary("env")}
    password_file = tmp_path / "vault-pass"
    password_file.write_text(uuid.uuid4().hex + "\n")
    password_file.chmod(0o600)
    data = Path("/dev/shm") / f"mlps-secrets-{uuid.uuid4().hex[:8]}"
    results = tmp_path / "results"
    # The inventory holds all three (never the extravars file ansible-runner copies into its own tree).
    vault_yaml = vault_encrypt(secrets["vault"], "mlps_test_vault_token", password_file)
    indented = "\n".join("      " + line for line in vault_yaml.splitlines())
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""clients:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
      ansible_become_password: {secrets['become']}
{indented}
      mlps_training_env:
        TF_CPP_MIN_LOG_LEVEL: "2"
        MY_TOKEN: {secrets['env']}
        MY_VAULT_TOKEN: "{{{{ mlps_test_vault_token }}}}"
""")
    private = tmp_path / "runner"
    private.mkdir()
    extra = {"mlps_results_dir": str(results), "mlps_data_dir": str(data), "mlps_training_system": "test-sys",
             "mlps_venv": str(client_venv), "mlps_training_staging_dir": str(tmp_path / "staging"), **TINY,
             "mlps_training_runs": 2}  # a warm-up and one run carry every secret as far as five would
    try:
        run = ansible_runner.run(
            private_data_dir=str(private), project_dir=str(ROOT), playbook=str(ROOT / "playbooks" / "run_training.yml"),
            inventory=str(inventory), extravars=extra, cmdline=f"--vault-password-file {password_file}",
            envvars={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                     "ANSIBLE_NOCOLOR": "1", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"},
            quiet=True, timeout=1200)
        stdout = run.stdout.read()
    finally:
        subprocess.run(["rm", "-rf", str(data)], check=False)
    assert run.rc == 0, stdout[-3000:]
    # The canaries really were in play: the ranks saw both environment values (DLIO ran with them)
    # and the vault value decrypted, or the test proves nothing.
    assert list(results.rglob("training_*_metadata.json")), "the campaign wrote no run leaves"

    leaks = {"results tree": files_holding(results, secrets),
             "ansible-runner artifacts": files_holding(private / "artifacts", secrets),
             "playbook stdout": {kind: ["stdout"] for kind, s in secrets.items() if s in stdout}}
    assert {where: found for where, found in leaks.items() if found} == {}, json.dumps(leaks, indent=1)


def test_the_search_finds_a_planted_canary(tmp_path):
    """The scanner itself: a canary written into a nested file is found, one elsewhere is not."""
    secret = canary("probe")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "leaf.json").write_text(json.dumps({"env": {"MY_TOKEN": secret}}))
    (tmp_path / "clean.log").write_text("nothing here\n")
    assert files_holding(tmp_path, {"env": secret, "other": canary("other")}) == {"env": ["a/b/leaf.json"]}
    assert sys.executable  # the scan runs in the test's own interpreter, no shell
