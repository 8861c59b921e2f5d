"""Action plugin mlps_ckpt_campaign (documented in roles/mlps_checkpointing/library/mlps_ckpt_campaign.py):
the controller side of a checkpointing campaign, in the controller's own Python.

Every piece of logic lives in mlps_rules.ckpt_campaign (and the helpers it reuses from
mlps_rules.campaign); this adapter only maps task arguments to it, so the results tree is written on
the controller whatever host the task names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True, "choices": ["plan", "leaf", "command", "metadata", "collect", "results"]},
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
    # leaves
    "workload_dir": {"type": "path"},
    "leaf": {"type": "path"},
    "stamp": {"type": "str"},
    "data": {"type": "dict", "default": {}},
    "files": {"type": "dict", "default": {}},
    "copies": {"type": "dict", "default": {}},
    "configs": {"type": "dict", "default": {}},
    "archives": {"type": "list", "elements": "path", "default": []},
    # command lines
    "campaign": {"type": "dict", "default": {}},
    "invocation": {"type": "dict", "default": {}},
    "output_folder": {"type": "str"},
    "dlio": {"type": "str"},
    "config_dir": {"type": "str"},
    "python": {"type": "str"},
    "engine_file": {"type": "str"},
    "plan_file": {"type": "str"},
    "transfer_size": {"type": "str", "default": "4MiB"},
    "odirect": {"type": "bool", "default": False},
    "fsync": {"type": "bool", "default": True},
    "time_between": {"type": "float"},
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
            from mlps_rules import ckpt_campaign  # noqa: PLC0415 - only the controller has it
            from mlps_rules.errors import UserError  # noqa: PLC0415
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps_rules ({exc}); run "
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

    def _leaf(self, cc, a, check):
        if check:
            stamp = "YYYYMMDD_HHMMSS"
            path = Path(a["workload_dir"]) / stamp
        else:
            path, stamp = cc.allocate_leaf(Path(a["workload_dir"]))
        return {"changed": not check, "leaf": str(path), "stamp": stamp, "metadata_file": cc.metadata_name(stamp)}

    def _command(self, cc, a, check):
        plan, invocation = _plain(a["campaign"]), _plain(a["invocation"])
        if plan.get("engine") == "dlio":
            argv, overrides = cc.dlio_command(dlio=a["dlio"], config_dir=a["config_dir"], plan=plan,
                                              invocation=invocation, folder=plan["folder"],
                                              output_folder=a["output_folder"], time_between=a["time_between"])
            return {"changed": False, "argv": argv, "overrides": overrides, "configs": {}}
        argv, overrides = cc.native_command(
            python=a["python"], engine=a["engine_file"], plan_file=a["plan_file"], plan=plan, invocation=invocation,
            folder=plan["folder"], output_folder=a["output_folder"], transfer_size=a["transfer_size"],
            odirect=a["odirect"], fsync=a["fsync"], time_between=a["time_between"])
        configs = cc.native_configs(plan, invocation, overrides, a["fsync"], argv)
        return {"changed": False, "argv": argv, "overrides": overrides, "configs": configs}

    def _metadata(self, cc, a, check):
        if check:
            return {"changed": False}
        leaf = Path(a["leaf"])
        for name, content in _plain(a["files"]).items():
            cc.campaign.write_json_atomic(leaf / cc.campaign.check_name("file name", name), content)
        if a["configs"]:
            cc.write_configs(leaf, _plain(a["configs"]))
        for name, source in _plain(a["copies"]).items():
            if source and Path(source).is_file():
                shutil.copyfile(source, leaf / cc.campaign.check_name("file name", name))
        meta = cc.update_metadata(leaf, a["stamp"], _plain(a["data"]))
        return {"changed": True, "status": meta.get("status")}

    def _collect(self, cc, a, check):
        if check:
            return {"changed": False, "files": []}
        files = cc.campaign.extract_outputs(a["archives"], a["leaf"])
        for archive in a["archives"]:
            Path(archive).unlink(missing_ok=True)
        return {"changed": bool(files), "files": files}

    def _results(self, cc, a, check):
        if check:
            return {"changed": False}
        document = cc.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "results.json")}
