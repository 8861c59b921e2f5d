"""Action plugin mlps_capsule: the campaign's reproducibility capsule (mlps-capsule/1), written on
the controller at the start of every campaign. Documented in ../library/mlps_capsule.py.

The inventory is read raw (never templated, so a vault value is never decrypted) and the -e
variables as ansible-playbook loaded them; mlps.campaign.capsule removes the secrets and writes."""

from __future__ import annotations

from ansible import context
from ansible.errors import AnsibleError
from ansible.utils.vars import load_extra_vars

try:
    from mlps.plugins.action import MlpsAction
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

ARGUMENT_SPEC = {
    "results_dir": {"type": "path", "required": True},
    "benchmark": {"type": "str", "required": True,
                  "choices": ["training", "checkpointing", "kv_cache", "vector_database", "benchfs"]},
    "campaign_id": {"type": "str", "required": True},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "venv_marker": {"type": "str", "default": ""},
    "versions": {"type": "dict", "default": {}},
    "code": {"type": "dict", "default": {}},
    "secret_names": {"type": "str", "default": "(?i)(token|secret|passw|key|credential|auth)"},
}


class ActionModule(MlpsAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    WRITE_HINT = "check that mlps_results_dir is writable on the controller"

    def run(self, tmp=None, task_vars=None):
        self._raw = self._raw_inventory(task_vars or {})
        return super().run(tmp, task_vars)

    def _raw_inventory(self, task_vars: dict) -> dict:
        """{host: raw variables} of the campaign's hosts, {group: hosts}, sources and -e variables,
        before any plain() (which would turn a vault value into its text)."""
        hostvars = task_vars.get("hostvars")
        hosts = list(self._task.args.get("hosts") or [])
        raw = {host: dict(hostvars.raw_get(host)) for host in hosts} if hostvars is not None else {}
        groups = {name: [h for h in members if h in hosts]
                  for name, members in (task_vars.get("groups") or {}).items() if name != "all"}
        return {"hosts": raw, "groups": {k: v for k, v in groups.items() if v},
                "inventory": list(context.CLIARGS.get("inventory") or []),
                "extra_vars": dict(load_extra_vars(self._loader))}

    def step(self, args, check):
        import json  # noqa: PLC0415 - imported when the step runs

        from mlps.campaign import capsule  # noqa: PLC0415

        try:
            marker = json.loads(args["venv_marker"]) if args["venv_marker"] else None
        except ValueError:
            marker = None
        document = capsule.build(benchmark=args["benchmark"], campaign_id=args["campaign_id"],
                                 venv_marker=marker if isinstance(marker, dict) else None,
                                 versions=args["versions"], code=args["code"], secret_names=args["secret_names"],
                                 **self._raw)
        # The code's identity, hashed once here for the whole campaign: each phase's provenance.json
        # takes it from the campaign context instead of hashing the checkout again.
        tool = document["code"]["mlps"]
        if check:
            return {"changed": False, "tool": tool,
                    "capsule": str(capsule.path_for(args["results_dir"], args["benchmark"], args["campaign_id"]))}
        path = capsule.write(args["results_dir"], document)
        return {"changed": True, "capsule": str(path), "rerun": document["rerun"]["command"], "tool": tool}
