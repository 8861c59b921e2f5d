"""Action plugin mlps_kvcache_campaign (documented in library/mlps_kvcache_campaign.py): a KV-cache
campaign's controller steps - the plan, the run leaf, each trial's start and end, the summary and
results.json - each mapping its arguments to mlps.campaign.kv_cache.
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
        "options": {"type": "raw", "default": "1,2,3"},
        "hosts": {"type": "list", "elements": "str", "required": True},
        "cache_dir": {"type": "str", "required": True},
        "staging_dir": {"type": "str", "required": True},
        "host_probes": {"type": "dict", "default": {}},
        "results_dir": {"type": "path", "required": True},
        "results_probe": {"type": "dict", "default": {}},
        "division": {"type": "str", "default": "closed"},
        "org": {"type": "str", "default": "mlps"},
        "system": {"type": "str", "default": "mlps-system"},
        "num_processes": {"type": "raw", "default": 0},
        "npernode": {"type": "raw", "default": 0},
        "trials": {"type": "raw", "default": 3},
        "inter_option_delay": {"type": "raw", "default": 90},
        "duration_scale": {"type": "raw", "default": 1.0},
        "size_scale": {"type": "raw", "default": 1.0},
        "users": {"type": "raw", "default": 0},
        "model": {"type": "str", "default": ""},
        "seed": {"type": "raw", "default": 42},
        "generation_mode": {"type": "str", "default": ""},
        "engine": {"type": "str", "default": "auto"},
        "mlcommons_dir": {"type": "str", "default": ""},
        "mlcommons_probe": {"type": "dict", "default": {}},
    },
    "open": {
        "campaign": {"type": "dict", "required": True},
        "context": {"type": "dict", "default": {}},
        "files": {"type": "dict", "default": {}},
        "copies": {"type": "dict", "default": {}},
    },
    "phase_start": {
        **PHASE_START,
        "campaign": {"type": "dict", "required": True},
        "leaf": {"type": "path", "required": True},
        "stamp": {"type": "str", "required": True},
        "option": {"type": "int", "required": True},
        "trial": {"type": "int", "required": True},
        "engine_args": {"type": "dict", "default": {}},
        "dropped": {"type": "dict", "default": {}},
    },
    "phase_end": {
        **PHASE_END,
        "label": {"type": "str", "required": True},
        "placement": {"type": "list", "elements": "raw", "required": True},
    },
    "finish": {
        "leaf": {"type": "path", "required": True},
        "stamp": {"type": "str", "required": True},
        "stopped": {"type": "str", "default": ""},
    },
    "results": {"workload_dir": {"type": "path", "required": True}},
}
ARGUMENT_SPEC = merged_spec(STEPS)


class ActionModule(MlpsAction):
    STEPS = STEPS

    def step_plan(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415 - imported by the step that needs it

        plan = kv_cache.plan_campaign(
            options=a["options"], hosts=a["hosts"], cache_dir=a["cache_dir"], stage_root=a["staging_dir"],
            host_probes=a["host_probes"], results_dir=a["results_dir"], results_probe=a["results_probe"],
            division=a["division"], org=a["org"], system=a["system"], num_processes=a["num_processes"],
            npernode=a["npernode"], trials=a["trials"], inter_option_delay=a["inter_option_delay"],
            duration_scale=a["duration_scale"], size_scale=a["size_scale"], users=a["users"], model=a["model"],
            seed=a["seed"], generation_mode=a["generation_mode"], engine=a["engine"],
            mlcommons_dir=a["mlcommons_dir"], mlcommons_probe=a["mlcommons_probe"])
        return {"changed": False, "campaign": plan}

    def step_open(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415

        return kv_cache.open_run(plan=a["campaign"], context=a["context"], files=a["files"], copies=a["copies"],
                                 check=check)

    def step_phase_start(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415

        return kv_cache.start_trial(plan=a["campaign"], leaf=a["leaf"], stamp=a["stamp"], option=a["option"],
                                    trial=a["trial"], staging_dir=a["staging_dir"], engine=a["engine_args"],
                                    mpi=a["mpi"], dropped=a["dropped"], check=check)

    def step_phase_end(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped", "leaf_open": True}
        ended = kv_cache.end_trial(leaf=a["leaf"], stamp=a["stamp"], label=a["label"], placement=a["placement"],
                                   hosts=a["hosts_order"], launcher=a["launcher"], archives=a["archives"],
                                   job=a["job"], waited=a["waited"], samples=a["samples"],
                                   unreachable=a["unreachable"])
        return {"changed": True, **ended}

    def step_finish(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped"}
        return {"changed": True, **kv_cache.finish(leaf=a["leaf"], stamp=a["stamp"], stopped=a["stopped"])}

    def step_results(self, a, check):
        from mlps.campaign import kv_cache  # noqa: PLC0415

        if check:
            return {"changed": False}
        document = kv_cache.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "results.json")}
