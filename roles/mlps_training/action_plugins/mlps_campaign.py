"""Action plugin mlps_campaign (documented in roles/mlps_training/library/mlps_campaign.py): the
controller side of a training campaign, in the controller's own Python.

Every piece of logic lives in mlps_rules.campaign; this adapter only maps task arguments to it, so
the results tree is written on the controller whatever host the task names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True,
           "choices": ["plan", "datasize", "leaf", "metadata", "copy", "collect", "command", "results"]},
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
    "archives": {"type": "list", "elements": "path", "default": []},
    "data_dir": {"type": "str"},
    # DLIO command line
    "dlio": {"type": "str"},
    "config_dir": {"type": "str"},
    "workload": {"type": "str"},
    "data_folder": {"type": "str"},
    "num_subfolders_train": {"type": "int", "default": 0},
    "checkpoint_folder": {"type": "str"},
    "output_folder": {"type": "str"},
    "tunables": {"type": "dict", "default": {}},
    "extra": {"type": "dict", "default": {}},
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
            from mlps_rules import campaign  # noqa: PLC0415 - only the controller has it
            from mlps_rules.errors import UserError  # noqa: PLC0415
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps_rules ({exc}); run "
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

    def _datasize(self, campaign, a, check):
        leaf = self._leaf(campaign, {**a, "command": "datasize"}, check)
        if not check:
            meta = campaign.datasize_metadata(_plain(a["data"]), a["data_dir"], leaf["stamp"])
            campaign.write_json_atomic(Path(leaf["leaf"]) / leaf["metadata_file"], meta)
            self._copy(campaign, {**a, "leaf": leaf["leaf"]}, check)
        return leaf

    def _leaf(self, campaign, a, check):
        if check:
            stamp = "YYYYMMDD_HHMMSS"
            path = Path(a["workload_dir"]) / a["command"] / stamp
        else:
            path, stamp = campaign.allocate_leaf(Path(a["workload_dir"]), a["command"])
        return {"changed": not check, "leaf": str(path), "stamp": stamp,
                "metadata_file": campaign.metadata_name(stamp)}

    def _metadata(self, campaign, a, check):
        if check:
            return {"changed": False}
        leaf = Path(a["leaf"])
        for name, content in _plain(a["files"]).items():
            campaign.write_json_atomic(leaf / campaign.check_name("file name", name), content)
        self._copy(campaign, a, check)
        meta = campaign.update_metadata(leaf, a["stamp"], _plain(a["data"]))
        return {"changed": True, "status": meta.get("status")}

    def _copy(self, campaign, a, check):
        """Copy controller files into the leaf (cluster facts snapshots), under the names given."""
        if check:
            return {"changed": False}
        copied = []
        for name, source in _plain(a["copies"]).items():
            if source and Path(source).is_file():
                shutil.copyfile(source, Path(a["leaf"]) / campaign.check_name("file name", name))
                copied.append(name)
        return {"changed": bool(copied), "copied": copied}

    def _collect(self, campaign, a, check):
        if check:
            return {"changed": False, "files": []}
        files = campaign.extract_outputs(a["archives"], a["leaf"])
        for archive in a["archives"]:
            Path(archive).unlink(missing_ok=True)
        return {"changed": bool(files), "files": files}

    def _command(self, campaign, a, check):
        argv, overrides = campaign.dlio_command(
            dlio=a["dlio"], config_dir=a["config_dir"], workload=a["workload"], data_folder=a["data_folder"],
            num_files_train=a["num_files_train"], num_subfolders_train=a["num_subfolders_train"],
            checkpoint_folder=a["checkpoint_folder"], output_folder=a["output_folder"],
            tunables=_plain(a["tunables"]), extra=_plain(a["extra"]))
        return {"changed": False, "argv": argv, "overrides": overrides}

    def _results(self, campaign, a, check):
        if check:
            return {"changed": False}
        document = campaign.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "run" / "results.json")}
