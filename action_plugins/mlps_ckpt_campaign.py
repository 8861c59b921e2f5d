"""Action plugin mlps_ckpt_campaign (documented in library/mlps_ckpt_campaign.py):
the controller side of a checkpointing campaign, in the controller's own Python.

Every piece of logic lives in mlps.campaign.checkpointing (and the helpers it reuses from
mlps.campaign.frame and mlps.campaign.phase); this adapter only maps task arguments to it, so the
results tree is written on the controller whatever host the task names. An invocation takes two
steps, phase_start and phase_end, as a training phase does (mlps_campaign); their results have the
shape callback_plugins/mlps_leaves.py follows (marker, leaf, stamp; then status).
"""

from __future__ import annotations

import json
from pathlib import Path

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True, "choices": ["plan", "phase_start", "phase_end", "results"]},
    # plan
    "model": {"type": "str"},
    "processes": {"type": "raw", "default": 0},
    "hosts": {"type": "list", "elements": "str"},
    "scale": {"type": "float", "default": 1.0},
    "subset": {"type": "bool", "default": False},
    "engine": {"type": "str", "default": "auto"},
    "accelerator": {"type": "str", "default": "b200"},
    "writes": {"type": "raw", "default": 10},
    "reads": {"type": "raw", "default": 10},
    "split": {"type": "str", "default": "auto"},
    "max_ranks_per_host": {"type": "raw", "default": 0},
    "host_probes": {"type": "dict", "default": {}},
    "dlio_probe": {"type": "dict", "default": {}},
    "folder": {"type": "str"},
    "results_dir": {"type": "path"},
    "division": {"type": "str", "default": "closed"},
    "org": {"type": "str", "default": "mlps"},
    "system": {"type": "str", "default": "mlps-system"},
    # one invocation
    "workload_dir": {"type": "path"},
    "campaign": {"type": "dict", "default": {}},
    "invocation": {"type": "dict", "default": {}},
    "staging_dir": {"type": "str"},
    "engine_args": {"type": "dict", "default": {}},
    "mpi": {"type": "dict", "default": {}},
    "context": {"type": "dict", "default": {}},
    "files": {"type": "dict", "default": {}},
    "copies": {"type": "dict", "default": {}},
    "leaf": {"type": "path"},
    "stamp": {"type": "str"},
    "label": {"type": "str", "default": "invocation"},
    "hosts_order": {"type": "list", "elements": "str", "default": []},
    "launcher": {"type": "str"},
    "archives": {"type": "dict", "default": {}},
    "job": {"type": "dict", "default": {}},
    "waited": {"type": "dict", "default": {}},
    "samples": {"type": "dict", "default": {}},
    "unreachable": {"type": "list", "elements": "str", "default": []},
}


def _plain(value):
    """Ansible's tagged containers as plain JSON types."""
    return json.loads(json.dumps(value, default=str))


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        args = _plain(args)                       # plain str/dict/list all the way down (yaml, json)
        try:
            from mlps.campaign import checkpointing as ckpt_campaign  # noqa: PLC0415 - only the controller has it
            from mlps.errors import UserError  # noqa: PLC0415
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps ({exc}); run "
                                           "ansible-playbook from the project venv (make venv)")
            return result
        try:
            result.update(getattr(self, f"_{args['op']}")(ckpt_campaign, args, self._task.check_mode))
        except UserError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, msg=f"{args['op']}: {exc}; check that the results directory is writable "
                                           "on the controller (mlps_results_dir)")
        return result

    # --- operations -----------------------------------------------------------------------------
    def _plan(self, cc, a, check):
        probes = cc.folder_probes(_plain(a["host_probes"]), a["folder"])
        plan = cc.plan_campaign(
            model=a["model"], processes=a["processes"], hosts=a["hosts"], scale=a["scale"], subset=a["subset"],
            engine=a["engine"], accelerator=a["accelerator"], writes=a["writes"], reads=a["reads"],
            split=a["split"], max_ranks_per_host=a["max_ranks_per_host"], host_probes=probes,
            dlio_probe=_plain(a["dlio_probe"]), folder=a["folder"], results_dir=a["results_dir"],
            division=a["division"], org=a["org"], system=a["system"])
        plan["host_probes"] = probes
        return {"changed": False, "campaign": plan}

    def _phase_start(self, cc, a, check):
        return cc.start_invocation(plan=_plain(a["campaign"]), invocation=_plain(a["invocation"]),
                                   staging_dir=a["staging_dir"], engine=_plain(a["engine_args"]),
                                   mpi=_plain(a["mpi"]), context=_plain(a["context"]), files=_plain(a["files"]),
                                   copies=_plain(a["copies"]), check=check)

    def _phase_end(self, cc, a, check):
        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped"}
        ended = cc.end_invocation(leaf=a["leaf"], stamp=a["stamp"], label=a["label"], hosts=a["hosts_order"],
                                  launcher=a["launcher"], archives=_plain(a["archives"]), job=_plain(a["job"]),
                                  waited=_plain(a["waited"]), samples=_plain(a["samples"]),
                                  unreachable=a["unreachable"])
        return {"changed": True, **ended}

    def _results(self, cc, a, check):
        if check:
            return {"changed": False}
        document = cc.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "results.json")}
