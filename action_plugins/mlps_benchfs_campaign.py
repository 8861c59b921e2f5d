"""Action plugin mlps_benchfs_campaign (documented in library/mlps_benchfs_campaign.py): a BenchFS sweep's
controller steps - the plan, each run's start and end, results.json - each mapping its arguments to
mlps.campaign.benchfs.
"""

from __future__ import annotations

from ansible.errors import AnsibleError

try:
    from mlps.plugins.action import PHASE_END, PHASE_START, MlpsAction, merged_spec
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

STEPS = {
    "plan": {
        "clients": {"type": "list", "elements": "str", "required": True},
        "servers": {"type": "list", "elements": "str", "required": True},
        "ranks_per_server": {"type": "raw", "default": 1},
        "results_dir": {"type": "path", "required": True},
        "org": {"type": "str", "default": "mlps"},
        "system": {"type": "str", "default": "mlps-system"},
        "registry_dir": {"type": "str", "required": True},
        "data_dir": {"type": "str", "required": True},
        "chunk_size": {"type": "raw", "default": "4m"},
        "config": {"type": "dict", "default": {}},
        "transfer_sizes": {"type": "list", "elements": "raw", "default": ["1m"]},
        "block_sizes": {"type": "list", "elements": "raw", "default": ["16m"]},
        "ranks_per_client": {"type": "list", "elements": "raw", "default": [1]},
        "ior_args": {"type": "list", "elements": "str", "default": []},
        "backend_options": {"type": "dict", "default": {}},
        "run_timeout": {"type": "raw", "default": 600},
    },
    "phase_start": {
        **PHASE_START,
        "campaign": {"type": "dict", "required": True},
        "index_number": {"type": "int", "required": True},
        "ior": {"type": "str", "required": True},
        "daemon": {"type": "str", "required": True},
    },
    "phase_end": {
        **PHASE_END,
        "campaign": {"type": "dict", "required": True},
        "label": {"type": "str", "required": True},
        "daemon_archives": {"type": "dict", "default": {}},
        "daemon_started": {"type": "dict", "default": {}},
        "daemon_stops": {"type": "dict", "default": {}},
    },
    "results": {
        "workload_dir": {"type": "path", "required": True},
        "leaves": {"type": "list", "elements": "str", "required": True},
    },
}
ARGUMENT_SPEC = merged_spec(STEPS)


class ActionModule(MlpsAction):
    STEPS = STEPS

    def step_plan(self, a, check):
        from mlps.campaign import benchfs  # noqa: PLC0415 - imported by the step that needs it

        return {"changed": False, "campaign": benchfs.plan_campaign(**{k: a[k] for k in STEPS["plan"]})}

    def step_phase_start(self, a, check):
        from mlps.campaign import benchfs  # noqa: PLC0415

        return benchfs.start_phase(plan=a["campaign"], index=a["index_number"], staging_dir=a["staging_dir"],
                                   ior=a["ior"], daemon=a["daemon"], mpi=a["mpi"], context=a["context"],
                                   files=a["files"], copies=a["copies"], check=check)

    def step_phase_end(self, a, check):
        from mlps.campaign import benchfs  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped"}
        ended = benchfs.end_phase(plan=a["campaign"], leaf=a["leaf"], stamp=a["stamp"], label=a["label"],
                                  hosts=a["hosts_order"], launcher=a["launcher"], archives=a["archives"],
                                  daemon_archives=a["daemon_archives"], daemon_started=a["daemon_started"],
                                  daemon_stops=a["daemon_stops"], job=a["job"], waited=a["waited"],
                                  samples=a["samples"], unreachable=a["unreachable"])
        return {"changed": True, **ended}

    def step_results(self, a, check):
        from mlps.campaign import benchfs  # noqa: PLC0415

        if check:
            return {"changed": False}
        document = benchfs.write_results_json(a["workload_dir"], a["leaves"])
        return {"changed": True, "results": document, "path": f"{a['workload_dir']}/results.json"}
