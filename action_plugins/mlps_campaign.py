"""Action plugin mlps_campaign (documented in library/mlps_campaign.py): the controller side of a
training campaign, one step per `op`, in the controller's own Python.

Every piece of logic lives in mlps.campaign (the frame and mlps.campaign.training); each step here
only maps its own arguments to it, so the results tree is written on the controller whatever host
the task names. The frame (argument check per step, errors to a failed task) is mlps.plugins.action.
"""

from __future__ import annotations

from pathlib import Path

from ansible.errors import AnsibleError
from ansible.utils.display import Display

try:
    from mlps.plugins.action import PHASE_END, PHASE_START, MlpsAction, merged_spec
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

display = Display()

_WORKLOAD = {"workload_dir": {"type": "path", "required": True}}
_PLAN = {
    "model": {"type": "str", "required": True},
    "accelerator": {"type": "str", "required": True},
    "accelerators_per_host": {"type": "int", "required": True},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "cluster_info": {"type": "path"},
    "cluster_data": {"type": "dict"},
    "num_files_train": {"type": "int", "default": 0},
    "accept_undersized": {"type": "bool", "default": False},
    "results_dir": {"type": "path", "required": True},
    "division": {"type": "str", "required": True},
    "org": {"type": "str", "required": True},
    "system": {"type": "str", "required": True},
    "tunables": {"type": "dict", "default": {}},
    "extra": {"type": "dict", "default": {}},
}
STEPS = {
    "plan": _PLAN,
    "configview": {"dlio_args": {"type": "dict", "required": True}},
    "resume": {**_WORKLOAD, "plan": {"type": "dict", "default": {}}, "runs": {"type": "int", "default": 6},
               "resume": {"type": "bool", "default": True}},
    "datasize": {**_WORKLOAD, "data": {"type": "dict", "required": True}, "data_dir": {"type": "str", "required": True},
                 "copies": {"type": "dict", "default": {}}},
    "datagen_skipped": {**_WORKLOAD, "data": {"type": "dict", "default": {}},
                        "context": {"type": "dict", "default": {}}},
    "phase_start": {
        **_WORKLOAD, **PHASE_START,
        "command": {"type": "str", "required": True, "choices": ["datagen", "run"]},
        "index": {"type": "int", "default": 0},
        "runs": {"type": "int", "default": 6},
        "dlio_args": {"type": "dict", "required": True},
    },
    "phase_end": {
        **_WORKLOAD, **PHASE_END,
        "label": {"type": "str", "required": True},
        "drop_evidence": {"type": "dict", "default": {}},
    },
    "results": _WORKLOAD,
}
ARGUMENT_SPEC = merged_spec(STEPS)


class ActionModule(MlpsAction):
    STEPS = STEPS

    def step_plan(self, a, check):
        from mlps.campaign import training  # noqa: PLC0415 - imported by the step that needs it
        from mlps.errors import UserError  # noqa: PLC0415

        source = a["cluster_info"]
        if a.get("cluster_data") and (source is None or not Path(source).is_file()):
            source = a["cluster_data"]
        elif a["cluster_info"] is None or not Path(a["cluster_info"]).is_file():
            raise UserError(f"cluster_info={a['cluster_info']}: the start snapshot is missing; the facts "
                            "step must run first (mlps_facts)")
        plan = training.plan_campaign(
            model=a["model"], accelerator=a["accelerator"], accelerators_per_host=a["accelerators_per_host"],
            hosts=a["hosts"], cluster_info=source, num_files_train=a["num_files_train"],
            accept_undersized=a["accept_undersized"], extra=a["extra"])
        plan["workload_dir"] = str(training.workload_dir(a["results_dir"], a["division"], a["org"], a["system"],
                                                         a["model"]))
        plan["warnings"] = training.check_overrides(a["tunables"], a["extra"])
        return {"changed": False, "campaign": plan}

    def step_configview(self, a, check):
        """The merged DLIO configuration of the runs, printed before anything runs."""
        from mlps.campaign import training  # noqa: PLC0415
        from mlps.plan import configview  # noqa: PLC0415

        dlio = a["dlio_args"]
        _argv, overrides = training.dlio_command(**dlio, output_folder="<the run's staging folder>/dlio")
        text = configview.render(dlio["workload"], overrides)
        display.display(f"  merged DLIO configuration of {dlio['workload']} (template + overrides):")
        for line in text.splitlines():
            display.display(f"    {line}")
        return {"changed": False, "config": configview.merged(dlio["workload"], overrides)}

    def step_resume(self, a, check):
        from mlps.campaign import resume  # noqa: PLC0415

        marked = [] if check else resume.mark_stale(a["workload_dir"])
        point = resume.resume_point(a["workload_dir"], a["plan"], a["runs"]) if a["resume"] else \
            {"resume": False, "campaign_id": None, "first_index": 1, "completed": 0, "previous": []}
        return {"changed": bool(marked), "interrupted": marked, **point}

    def step_datasize(self, a, check):
        from mlps.campaign import frame, phase, training  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": f"{a['workload_dir']}/datasize/{phase.CHECK_STAMP}",
                    "stamp": phase.CHECK_STAMP}
        path, stamp = frame.allocate_leaf(Path(a["workload_dir"]), "datasize")
        meta = training.datasize_metadata(a["data"], a["data_dir"], stamp)
        meta["campaign_id"] = stamp
        phase.write_inputs(path, {training.metadata_name(stamp): meta}, a["copies"])
        return {"changed": True, "leaf": str(path), "stamp": stamp}

    def step_datagen_skipped(self, a, check):
        from mlps.campaign import training  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": None}
        leaf = training.record_skipped_datagen(Path(a["workload_dir"]), a["data"], a["context"])
        return {"changed": leaf is not None, "leaf": str(leaf) if leaf else None}

    def step_phase_start(self, a, check):
        from mlps.campaign import training  # noqa: PLC0415

        return training.start_phase(workload_dir=a["workload_dir"], command=a["command"], index=a["index"],
                                    runs=a["runs"], staging_dir=a["staging_dir"], dlio=a["dlio_args"], mpi=a["mpi"],
                                    context=a["context"], files=a["files"], copies=a["copies"], check=check)

    def step_phase_end(self, a, check):
        from mlps.campaign import training  # noqa: PLC0415

        if check:
            return {"changed": False, "status": "check"}
        ended = training.end_phase(leaf=a["leaf"], stamp=a["stamp"], phase_label=a["label"], hosts=a["hosts_order"],
                                   launcher=a["launcher"], archives=a["archives"], job=a["job"], waited=a["waited"],
                                   samples=a["samples"], drop_evidence=a["drop_evidence"],
                                   unreachable=a["unreachable"])
        out = self.with_verdict({"changed": True, **ended}, a, a["workload_dir"])
        if ended["status"] != "completed":
            out.update(failed=True, msg=f"{ended['message']}. DLIO's logs are in {a['leaf']}")
        elif a["unreachable"]:
            out.update(failed=True, msg=f"{a['label']} completed, but {', '.join(a['unreachable'])} can no longer "
                                        "be reached; the campaign stops here (the leaf is kept)")
        return out

    def step_results(self, a, check):
        from mlps.campaign import training  # noqa: PLC0415

        if check:
            return {"changed": False}
        document = training.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "run" / "results.json")}
