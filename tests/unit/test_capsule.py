"""mlps.campaign.capsule: the campaign's reproducibility capsule; a canary secret (the pattern of
tests/faults/test_secrets.py) planted every way a secret reaches the inventory never reaches the file."""

from __future__ import annotations

import json
import shlex
import uuid
from pathlib import Path

import pytest

from mlps.campaign import capsule
from mlps.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def canary(kind: str) -> str:
    return f"mlpscanary{kind}{uuid.uuid4().hex}"


class Vaulted:
    """Stands in for a vault-encrypted value: its text is the decrypted secret."""

    def __init__(self, secret):
        self.secret = secret

    def __str__(self):
        return self.secret


def _document(secrets: dict, **kw) -> dict:
    raw = {
        "mlps_training_model": "unet3d", "mlps_results_dir": "/r", "ansible_become_password": secrets["become"],
        "mlps_training_env": {"TF_CPP_MIN_LOG_LEVEL": "2", "MY_TOKEN": secrets["env"]},
        "mlps_training_secret_env": {"S3_ACCESS": secrets["secret_env"]},
        "mlps_test_vault_token": Vaulted(secrets["vault"]),
        "mlps_storage_options": {"endpoint": "http://s3", "password": secrets["nested"]},
        "mlps_hosts_note": [Vaulted(secrets["listed"])],
        "group_names": ["clients"],
    }
    args = {"benchmark": "training", "campaign_id": "20260101_120000", "hosts": {"h1": raw},
            "groups": {"clients": ["h1"]}, "inventory": ["/inv/hosts.yml"],
            "extra_vars": {"mlps_training_system": "sys-1", "mlps_results_dir": "/r",
                           "mlps_api_key": secrets["extra"], "mlps_training_overrides": {"reader.read_threads": 4}},
            "venv_marker": {"schema": "mlps-env-marker/1", "key": "ab" * 32, "python": "3.11.9"},
            "versions": {"dlio_benchmark": "2.0.0", "python": "3.11.9"}}
    args.update(kw)
    return capsule.build(**args)


def test_no_canary_reaches_the_capsule(tmp_path):
    secrets = {kind: canary(kind) for kind in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")}
    path = capsule.write(tmp_path, _document(secrets))
    text = path.read_text()
    leaked = [kind for kind, secret in secrets.items() if secret in text]
    assert leaked == []
    host = json.loads(text)["inventory"]["hosts"]["h1"]
    # names stay (a user sees what to give again), values go; non-secrets are kept as they were
    assert host["mlps_training_env"] == {"TF_CPP_MIN_LOG_LEVEL": "2", "MY_TOKEN": "<redacted>"}
    assert host["mlps_training_secret_env"] == {"S3_ACCESS": "<redacted>"}
    assert host["mlps_test_vault_token"] == capsule.REDACTED and host["mlps_hosts_note"] == ["<redacted>"]
    assert host["mlps_storage_options"] == {"endpoint": "http://s3", "password": "<redacted>"}
    assert "ansible_become_password" not in host and host["mlps_training_model"] == "unet3d"


def test_rerun_command_carries_every_extra_var_with_its_type():
    secrets = {kind: canary(kind) for kind in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")}
    rerun = _document(secrets)["rerun"]
    argv = rerun["argv"]
    assert argv[:4] == ["ansible-playbook", "-i", "/inv/hosts.yml", "playbooks/run_training.yml"]
    given = {}
    for flag, value in zip(argv[4::2], argv[5::2], strict=True):
        assert flag == "-e"
        given.update(json.loads(value))
    assert given == {"mlps_training_system": "sys-1", "mlps_results_dir": "/r", "mlps_api_key": "<redacted>",
                     "mlps_training_overrides": {"reader.read_threads": 4}}
    assert rerun["redacted_extra_vars"] == ["mlps_api_key"] and shlex.split(rerun["command"]) == argv


def test_versions_locks_and_code_hashes():
    document = _document({k: canary(k) for k in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")})
    assert document["schema"] == "mlps-capsule/1" and document["environment"]["lock_sha256"] == "ab" * 32
    assert document["code"]["mlps"]["code_image"].startswith("md5-tree-v2:")
    assert document["code"]["dlio"] == {"version": "2.0.0", "code_image": "unknown", "why": "not hashed"}
    without = _document({k: canary(k) for k in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")},
                        venv_marker=None, versions={})
    assert without["environment"]["lock_sha256"] == "unknown" and without["code"]["dlio"]["version"] == "unknown"
    # the launcher's hashes (mlps_code_hash results) name the code each campaign ran
    image = "md5-tree-v2:" + "1" * 32
    hashed = _document({k: canary(k) for k in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")},
                       code={"dlio": {"found": True, "path": "/v/site-packages/dlio_benchmark", "code_image": image},
                             "kv_cache_benchmark": {"found": False, "reason": "/opt/kv is not a folder"}})
    assert hashed["code"]["dlio"] == {"version": "2.0.0", "code_image": image,
                                      "path": "/v/site-packages/dlio_benchmark"}
    assert hashed["code"]["kv_cache_benchmark"] == {"code_image": "unknown", "why": "/opt/kv is not a folder"}


def test_a_resumed_campaign_never_overwrites_its_first_capsule(tmp_path):
    secrets = {k: canary(k) for k in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")}
    first = capsule.write(tmp_path, _document(secrets))
    before = first.read_text()
    second = capsule.write(tmp_path, _document(secrets))
    assert first.name == "training-20260101_120000.json" and first.parent.name == "capsules"
    assert second != first and second.name.startswith("training-20260101_120000.resumed-")
    assert first.read_text() == before


def test_bad_secret_pattern_and_campaign_id_are_one_line_errors():
    secrets = {k: canary(k) for k in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")}
    with pytest.raises(UserError, match=r"secret_names='\(': not a regular expression"):
        _document(secrets, secret_names="(")  # noqa: S106 - a bad regular expression, not a password
    with pytest.raises(UserError, match="campaign id"):
        capsule.path_for("/r", "training", "../x")


@pytest.mark.parametrize("benchmark", ["training", "checkpointing", "kv_cache", "vector_database", "benchfs"])
def test_the_rerun_command_names_a_playbook_that_exists(benchmark):
    secrets = {kind: canary(kind) for kind in ("become", "env", "secret_env", "vault", "nested", "listed", "extra")}
    argv = _document(secrets, benchmark=benchmark)["rerun"]["argv"]
    playbook = next(a for a in argv if a.startswith("playbooks/"))
    assert (REPO / playbook).is_file(), playbook
