"""Action plugin mlps_campaign (documented in library/mlps_campaign.py): the
controller side of a training campaign, in the controller's own Python.

Every piece of logic lives in mlps.campaign.frame; this adapter only maps task arguments to it, so
the results tree is written on the controller whatever host the task names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True,
           "choices": ["plan", "configview", "resume", "datasize", "datagen_skipped", "phase_start", "phase_end",
                       "metadata", "results"]},
    # plan
    "model": {"type": "str"},
    "accelerator": {"type": "str"},
    "accelerators_per_host": {"type": "int"},
    "hosts": {"type": "list", "elements": "str"},
    "cluster_info": {"type": "path"},
    "cluster_data": {"type": "dict"},
    "num_files_train": {"type": "int", "default": 0},
    "accept_undersized": {"type": "bool", "default": False},
    "results_dir": {"type": "path"},
    "division": {"type": "str"},
    "org": {"type": "str"},
    "system": {"type": "str"},
    # leaves
    "workload_dir": {"type": "path"},
    "command": {"type": "str"},
    "leaf": {"type": "path"},
    "stamp": {"type": "str"},
    "data": {"type": "dict", "default": {}},
    "files": {"type": "dict", "default": {}},
    "copies": {"type": "dict", "default": {}},
    "data_dir": {"type": "str"},
    "tunables": {"type": "dict", "default": {}},
    "extra": {"type": "dict", "default": {}},
    # resume
    "runs": {"type": "int", "default": 6},
    "plan": {"type": "dict", "default": {}},
    "resume": {"type": "bool", "default": True},
    # phases
    "index": {"type": "int", "default": 0},
    "staging_dir": {"type": "str"},
    "dlio_args": {"type": "dict", "default": {}},
    "mpi": {"type": "dict", "default": {}},
    "context": {"type": "dict", "default": {}},
    "label": {"type": "str"},
    "hosts_order": {"type": "list", "elements": "str", "default": []},
    "launcher": {"type": "str"},
    "archives": {"type": "dict", "default": {}},
    "job": {"type": "dict", "default": {}},
    "waited": {"type": "dict", "default": {}},
    "samples": {"type": "dict", "default": {}},
    "drop_evidence": {"type": "dict", "default": {}},
    "unreachable": {"type": "list", "elements": "str", "default": []},
    "verify": {"type": "bool", "default": False},
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
        try:
            from mlps.campaign import frame as campaign  # noqa: PLC0415 - only the controller has it
            from mlps.errors import UserError  # noqa: PLC0415
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps ({exc}); run "
                                           "ansible-playbook from the project venv (make venv)")
            return result
        check = self._task.check_mode
        try:
            result.update(getattr(self, f"_{args['op']}")(campaign, args, check))
        except UserError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, msg=f"{args['op']}: {exc}; check that the results directory is writable "
                                           "on the controller (mlps_results_dir)")
        return result

    # --- operations -----------------------------------------------------------------------------
    def _plan(self, campaign, a, check):
        source = a["cluster_info"]
        if a.get("cluster_data") and (source is None or not Path(source).is_file()):
            source = _plain(a["cluster_data"])
        elif a["cluster_info"] is None or not Path(a["cluster_info"]).is_file():
            raise campaign.UserError(f"cluster_info={a['cluster_info']}: the start snapshot is missing; the facts "
                                     "step must run first (mlps_facts)")
        plan = campaign.plan_campaign(
            model=a["model"], accelerator=a["accelerator"], accelerators_per_host=a["accelerators_per_host"],
            hosts=a["hosts"], cluster_info=source, num_files_train=a["num_files_train"],
            accept_undersized=a["accept_undersized"], extra=_plain(a["extra"]))
        plan["workload_dir"] = str(campaign.workload_dir(a["results_dir"], a["division"], a["org"], a["system"],
                                                         a["model"]))
        plan["warnings"] = campaign.check_overrides(_plain(a["tunables"]), _plain(a["extra"]))
        return {"changed": False, "campaign": plan}

    def _configview(self, campaign, a, check):
        """The merged DLIO configuration of the runs, printed before anything runs."""
        from mlps.plan import configview  # noqa: PLC0415

        dlio = _plain(a["dlio_args"])
        _argv, overrides = campaign.dlio_command(**dlio, output_folder="<the run's staging folder>/dlio")
        text = configview.render(dlio["workload"], overrides)
        display.display(f"  merged DLIO configuration of {dlio['workload']} (template + overrides):")
        for line in text.splitlines():
            display.display(f"    {line}")
        return {"changed": False, "config": configview.merged(dlio["workload"], overrides)}

    def _resume(self, campaign, a, check):
        from mlps.campaign import resume  # noqa: PLC0415

        marked = [] if check else resume.mark_stale(a["workload_dir"])
        point = resume.resume_point(a["workload_dir"], _plain(a["plan"]), a["runs"]) if a["resume"] else \
            {"resume": False, "campaign_id": None, "first_index": 1, "completed": 0, "previous": []}
        return {"changed": bool(marked), "interrupted": marked, **point}

    def _datasize(self, campaign, a, check):
        if check:
            return {"changed": False, "leaf": f"{a['workload_dir']}/datasize/YYYYMMDD_HHMMSS",
                    "stamp": "YYYYMMDD_HHMMSS"}
        path, stamp = campaign.allocate_leaf(Path(a["workload_dir"]), "datasize")
        meta = campaign.datasize_metadata(_plain(a["data"]), a["data_dir"], stamp)
        meta["campaign_id"] = stamp
        campaign.write_json_atomic(path / campaign.metadata_name(stamp), meta)
        self._copy(campaign, path, a["copies"])
        return {"changed": True, "leaf": str(path), "stamp": stamp}

    def _datagen_skipped(self, campaign, a, check):
        if check:
            return {"changed": False, "leaf": None}
        leaf = campaign.record_skipped_datagen(Path(a["workload_dir"]), _plain(a["data"]), _plain(a["context"]))
        return {"changed": leaf is not None, "leaf": str(leaf) if leaf else None}

    def _metadata(self, campaign, a, check):
        if check:
            return {"changed": False}
        meta = campaign.update_metadata(Path(a["leaf"]), a["stamp"], _plain(a["data"]))
        return {"changed": True, "status": meta.get("status")}

    @staticmethod
    def _copy(campaign, leaf, copies):
        """Copy controller files into the leaf (cluster facts snapshots), under the names given."""
        for name, source in _plain(copies).items():
            if source and Path(source).is_file():
                shutil.copyfile(source, Path(leaf) / campaign.check_name("file name", name))

    def _phase_start(self, campaign, a, check):
        from mlps.campaign import phase  # noqa: PLC0415

        return phase.start(workload_dir=a["workload_dir"], command=a["command"], index=a["index"], runs=a["runs"],
                           staging_dir=a["staging_dir"], dlio=_plain(a["dlio_args"]), mpi=_plain(a["mpi"]),
                           context=_plain(a["context"]), files=_plain(a["files"]), copies=_plain(a["copies"]),
                           check=check)

    def _phase_end(self, campaign, a, check):
        from mlps.campaign import phase  # noqa: PLC0415

        if check:
            return {"changed": False, "status": "check"}
        ended = phase.end(leaf=a["leaf"], stamp=a["stamp"], phase_label=a["label"], hosts=a["hosts_order"],
                          launcher=a["launcher"], archives=_plain(a["archives"]), job=_plain(a["job"]),
                          waited=_plain(a["waited"]), samples=_plain(a["samples"]),
                          drop_evidence=_plain(a["drop_evidence"]), unreachable=a["unreachable"])
        out = {"changed": True, **ended}
        if a["verify"]:
            out["verdict"] = self._verdict(a["workload_dir"], f"after {a['label']}")
        if ended["status"] != "completed":
            out.update(failed=True, msg=f"{ended['message']}. DLIO's logs are in {a['leaf']}")
        elif a["unreachable"]:
            out.update(failed=True, msg=f"{a['label']} completed, but {', '.join(a['unreachable'])} can no longer "
                                        "be reached; the campaign stops here (the leaf is kept)")
        return out

    @staticmethod
    def _verdict(workload, label):
        """The verifier in this process (no subprocess per run); printed as the play goes."""
        from mlps.rulebook.verify import verify  # noqa: PLC0415

        document = verify(workload).as_dict()
        lines = [f"verdict {label}: {document['verdict']} {json.dumps(document['counts'])}"]
        lines += [f"{item['rule']}: {item['message']}" for item in document["findings"]
                  if item["outcome"] in ("INVALID", "OPEN", "ERROR")]
        for line in lines:
            display.display(f"  {line}")
        return lines

    def _results(self, campaign, a, check):
        if check:
            return {"changed": False}
        document = campaign.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "run" / "results.json")}
