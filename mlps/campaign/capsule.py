"""The reproducibility capsule of a campaign (`mlps-capsule/1`): one JSON file per campaign,
`<mlps_results_dir>/capsules/<benchmark>-<campaign id>.json`, holding what it takes to run the
campaign again: the inventory (hosts, groups, every mlps_* variable in force) with its secrets
removed, the client venv's ready marker (installed versions and the locks' sha256), the code
hashes of mlps and DLIO, and the ansible-playbook command line with every -e the user gave.

Secrets never reach the file: a value whose name matches the secret-name pattern (the one the
launch uses, roles/mlps_phase `mlps_phase_secret_names`), everything under a `*_secret_env`
variable, and any value that is not plain data (a vault-encrypted value, whose text would be the
decrypted secret) are written as "<redacted>". Pure Python, no Ansible: the action passes plain data.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from mlps import __version__
from mlps.campaign import frame, provenance
from mlps.errors import UserError
from mlps.natural_order import natural_items

SCHEMA = "mlps-capsule/1"
# The playbook that reruns a benchmark, where it is not run_<benchmark>.yml.
PLAYBOOKS = {"kv_cache": "run_kvcache.yml", "vector_database": "run_vectordb.yml"}
REDACTED = "<redacted>"
# The same default as roles/mlps_phase/defaults/main.yml (mlps_phase_secret_names).
REDACT_NAMES = "(?i)(token|secret|passw|key|credential|auth)"
PREFIX = "mlps_"
REDACT_ENV_SUFFIX = "_secret_env"
PLAIN = (str, int, float, bool, type(None))


def _pattern(secret_names: str) -> re.Pattern:
    try:
        return re.compile(secret_names)
    except re.error as exc:
        raise UserError(f"secret_names={secret_names!r}: not a regular expression ({exc}); set "
                        "mlps_phase_secret_names to a Python regular expression") from exc


def redact(name: str, value, pattern: re.Pattern, whole: bool = False):
    """value with every secret replaced: the whole value when its name matches the pattern (or
    `whole`), recursively into mappings (keys are names too) and lists; anything not plain data."""
    if whole or pattern.search(str(name)):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): _secret_env(v) if str(k).endswith(REDACT_ENV_SUFFIX) else redact(str(k), v, pattern)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(name, item, pattern) for item in value]
    if isinstance(value, str):
        return str(value)
    return value if isinstance(value, PLAIN) else REDACTED


def host_variables(raw: dict, pattern: re.Pattern) -> dict:
    """The mlps_* variables of one host, redacted (a *_secret_env keeps its names, never its values)."""
    return {name: _secret_env(value) if name.endswith(REDACT_ENV_SUFFIX) else redact(name, value, pattern)
            for name, value in sorted(raw.items()) if str(name).startswith(PREFIX)}


def _secret_env(value):
    return {str(k): REDACTED for k in value} if isinstance(value, dict) else REDACTED


def _extra_argv(extra_vars: dict, pattern: re.Pattern) -> tuple[list[str], list[str]]:
    """-e arguments, one per variable as a one-key JSON object (types kept), and the names redacted."""
    argv, redacted = [], []
    for name in sorted(extra_vars):
        value = _secret_env(extra_vars[name]) if name.endswith(REDACT_ENV_SUFFIX) else \
            redact(name, extra_vars[name], pattern)
        if value != extra_vars[name]:
            redacted.append(name)
        argv += ["-e", json.dumps({name: value}, sort_keys=True, separators=(",", ":"))]
    return argv, redacted


def build(*, benchmark: str, campaign_id: str, hosts: dict, groups: dict, inventory: list, extra_vars: dict,
          venv_marker: dict | None, versions: dict, code: dict | None = None,
          secret_names: str = REDACT_NAMES) -> dict:
    """The capsule document.

    hosts: {host name: its raw variables}; groups: {group: [hosts]} restricted by the caller;
    inventory: the inventory sources given to ansible-playbook; extra_vars: the -e variables as loaded;
    venv_marker: the client venv's ready marker (module_utils/mlps_venv.py), None when unreadable;
    versions: what the campaign read on the launcher (dlio_benchmark, python, mpi, ...);
    code: name -> mlps_code_hash result on the launcher (`dlio`: the venv's DLIO; others by name)."""
    pattern = _pattern(secret_names)
    playbook = f"playbooks/{PLAYBOOKS.get(benchmark) or 'run_' + frame.check_name('benchmark', benchmark) + '.yml'}"
    extra, redacted = _extra_argv(extra_vars, pattern)
    argv = ["ansible-playbook", *[part for source in inventory for part in ("-i", str(source))], playbook, *extra]
    dlio_version = (versions or {}).get("dlio_benchmark")
    return {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "campaign_id": campaign_id,
        "created_at": frame.utc_now(),
        "inventory": {"sources": [str(s) for s in inventory], "groups": groups,
                      "hosts": {host: host_variables(raw, pattern) for host, raw in natural_items(hosts)}},
        "environment": {"venv_marker": venv_marker or None,  # written by our venv module: versions, no secrets
                        "lock_sha256": (venv_marker or {}).get("key", provenance.UNKNOWN),
                        "versions": redact("versions", versions or {}, pattern)},
        "code": {"mlps": {"version": __version__, **provenance.tool_identity()},
                 "dlio": {"version": str(dlio_version) if dlio_version else provenance.UNKNOWN,
                          **_hashed((code or {}).get("dlio"))},
                 **{str(name): _hashed(found) for name, found in (code or {}).items() if name != "dlio"}},
        "rerun": {"argv": argv, "command": shlex.join(argv), "redacted_extra_vars": redacted,
                  "note": "run from the mlps checkout; give every redacted value again (vault or environment)"},
    }


def _hashed(found) -> dict:
    """{code_image, path} from an mlps_code_hash result ("unknown" and why, when it found nothing)."""
    found = found if isinstance(found, dict) else {}
    if found.get("found") and found.get("code_image"):
        return {"code_image": str(found["code_image"]), "path": str(found.get("path") or "")}
    return {"code_image": provenance.UNKNOWN, "why": str(found.get("reason") or found.get("msg") or "not hashed")}


def path_for(results_dir, benchmark: str, campaign_id: str) -> Path:
    return (Path(results_dir) / "capsules"
            / f"{frame.check_name('benchmark', benchmark)}-{frame.check_name('campaign id', campaign_id)}.json")


def write(results_dir, document: dict) -> Path:
    """Write the capsule; an existing capsule of the same campaign (a resumed one) is kept as it was
    and the new one goes beside it with the resume's stamp, so nothing written is lost."""
    path = path_for(results_dir, document["benchmark"], document["campaign_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = document["created_at"].replace("-", "").replace(":", "").replace("T", "_").rstrip("Z")
    first, n = path, 1
    while path.exists():
        path = first.with_name(f"{first.stem}.resumed-{stamp}{'' if n == 1 else f'-{n}'}.json")
        n += 1
    frame.write_json_atomic(path, document)
    return path
