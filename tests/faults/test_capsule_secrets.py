"""Secrets and the capsule, through a real ansible-playbook: canaries planted as a vault-encrypted
mlps_* variable whose name does not look secret (only its type tells), an environment value with
a secret name, a *_secret_env value, a -e variable with a secret name and the become password
never reach the capsule nor the output. The campaign roles write it with roles/mlps_phase
tasks_from=capsule; the same tasks run here alone (seconds, not a whole campaign)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from tests.faults.test_secrets import canary, vault_encrypt
from tests.integration.playbook import BIN, ROOT

pytestmark = [pytest.mark.integration]

PLAYBOOK = """- name: Capsule only
  hosts: clients
  gather_facts: false
  tasks:
    - name: Write the capsule as the campaign roles do
      ansible.builtin.include_role:
        name: mlps_phase
        tasks_from: capsule
      vars:
        mlps_phase_benchmark: training
        mlps_phase_campaign_id: "20260101_120000"
        mlps_phase_hosts: "{{ groups['clients'] }}"
        mlps_phase_launcher: localhost
        mlps_phase_versions: {dlio_benchmark: "2.0.0"}
"""


def test_capsule_of_a_real_play_holds_no_canary(tmp_path):
    secrets = {kind: canary(kind) for kind in ("become", "vault", "env", "secret_env", "extra")}
    password_file = tmp_path / "vault-pass"
    password_file.write_text(uuid.uuid4().hex + "\n")
    password_file.chmod(0o600)
    vault_yaml = vault_encrypt(secrets["vault"], "mlps_test_vaulted_note", password_file)
    indented = "\n".join("      " + line for line in vault_yaml.splitlines())
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""clients:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
      ansible_become_password: {secrets['become']}
{indented}
      mlps_venv: {tmp_path / 'no-venv'}
      mlps_training_env:
        TF_CPP_MIN_LOG_LEVEL: "2"
        MY_TOKEN: {secrets['env']}
      mlps_training_secret_env:
        S3_ACCESS: {secrets['secret_env']}
""")
    playbook = tmp_path / "capsule.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results"
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "--vault-password-file",
            str(password_file), "-e", f"mlps_results_dir={results}", "-e", "mlps_training_system=sys-1",
            "-e", json.dumps({"mlps_s3_password": secrets["extra"]})]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
           "ANSIBLE_LIBRARY": str(ROOT / "library"), "ANSIBLE_ACTION_PLUGINS": str(ROOT / "action_plugins"),
           "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    path = results / "capsules" / "training-20260101_120000.json"
    text = path.read_text()
    assert [kind for kind, secret in secrets.items() if secret in text] == []
    assert [kind for kind, secret in secrets.items() if secret in done.stdout + done.stderr] == []
    document = json.loads(text)
    host = document["inventory"]["hosts"]["localhost"]
    assert host["mlps_test_vaulted_note"] == "<redacted>"
    assert host["mlps_training_env"] == {"TF_CPP_MIN_LOG_LEVEL": "2", "MY_TOKEN": "<redacted>"}
    assert host["mlps_training_secret_env"] == {"S3_ACCESS": "<redacted>"}
    assert document["inventory"]["groups"] == {"clients": ["localhost"]}
    argv_again = document["rerun"]["argv"]
    assert argv_again[:4] == ["ansible-playbook", "-i", str(inventory), "playbooks/run_training.yml"]
    assert json.dumps({"mlps_training_system": "sys-1"}, separators=(",", ":")) in argv_again
    assert document["rerun"]["redacted_extra_vars"] == ["mlps_s3_password"]
    # no venv marker on this host: said, not guessed
    assert document["environment"]["lock_sha256"] == "unknown"
