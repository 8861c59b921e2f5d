"""Action plugin mlps_ckpt_campaign (documented in library/mlps_ckpt_campaign.py): the controller
side of a checkpointing campaign, one step per `op`, in the controller's own Python.

Every piece of logic lives in mlps.campaign.checkpointing (on the frame in mlps.campaign); each step
here only maps its own arguments to it. The frame of the plugin itself is mlps.plugins.action.
"""

from __future__ import annotations

from pathlib import Path

from ansible.errors import AnsibleError

try:
    from mlps.plugins.action import PHASE_END, PHASE_START, MlpsAction, merged_spec
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

STEPS = {
    "plan": {
        "model": {"type": "str", "required": True},
        "processes": {"type": "raw", "default": 0},
        "hosts": {"type": "list", "elements": "str", "required": True},
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
        "folder": {"type": "str", "required": True},
        "results_dir": {"type": "path", "required": True},
        "division": {"type": "str", "default": "closed"},
        "org": {"type": "str", "default": "mlps"},
        "system": {"type": "str", "default": "mlps-system"},
    },
    "phase_start": {
        **PHASE_START,
        "campaign": {"type": "dict", "required": True},
        "invocation": {"type": "dict", "required": True},
        "engine_args": {"type": "dict", "default": {}},
    },
    "phase_end": {**PHASE_END, "label": {"type": "str", "default": "invocation"}},
    "results": {"workload_dir": {"type": "path", "required": True}},
}
ARGUMENT_SPEC = merged_spec(STEPS)


class ActionModule(MlpsAction):
    STEPS = STEPS

    def step_plan(self, a, check):
        from mlps.campaign import checkpointing as cc  # noqa: PLC0415 - imported by the step that needs it

        probes = cc.folder_probes(a["host_probes"], a["folder"])
        plan = cc.plan_campaign(
            model=a["model"], processes=a["processes"], hosts=a["hosts"], scale=a["scale"], subset=a["subset"],
            engine=a["engine"], accelerator=a["accelerator"], writes=a["writes"], reads=a["reads"],
            split=a["split"], max_ranks_per_host=a["max_ranks_per_host"], host_probes=probes,
            dlio_probe=a["dlio_probe"], folder=a["folder"], results_dir=a["results_dir"],
            division=a["division"], org=a["org"], system=a["system"])
        plan["host_probes"] = probes
        return {"changed": False, "campaign": plan}

    def step_phase_start(self, a, check):
        from mlps.campaign import checkpointing as cc  # noqa: PLC0415

        return cc.start_invocation(plan=a["campaign"], invocation=a["invocation"], staging_dir=a["staging_dir"],
                                   engine=a["engine_args"], mpi=a["mpi"], context=a["context"], files=a["files"],
                                   copies=a["copies"], check=check)

    def step_phase_end(self, a, check):
        from mlps.campaign import checkpointing as cc  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped"}
        ended = cc.end_invocation(leaf=a["leaf"], stamp=a["stamp"], label=a["label"], hosts=a["hosts_order"],
                                  launcher=a["launcher"], archives=a["archives"], job=a["job"], waited=a["waited"],
                                  samples=a["samples"], unreachable=a["unreachable"])
        # an invocation's leaf sits right in the workload folder
        return self.with_verdict({"changed": True, **ended}, a, Path(a["leaf"]).parent)

    def step_results(self, a, check):
        from mlps.campaign import checkpointing as cc  # noqa: PLC0415

        if check:
            return {"changed": False}
        document = cc.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "results.json")}
