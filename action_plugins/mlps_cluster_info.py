"""Action plugin mlps_cluster_info (documented in library/mlps_cluster_info.py): the cluster view
built on the controller, in the controller's own Python.

It runs where mlps is installed (the venv running ansible-playbook), so it imports the
cluster model directly instead of starting a module and a CLI process per call; the model, the
findings and the file format all live in mlps.cluster. Shipped with the mlps_facts role.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "facts": {"type": "list", "elements": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "data_path": {"type": "str"},
    "results_path": {"type": "str"},
    "interface": {"type": "str"},
    "start": {"type": "path"},
}


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            from mlps import cluster as model  # noqa: PLC0415 - only the controller has it
            from mlps.errors import UserError  # noqa: PLC0415
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps ({exc}); run "
                                           "ansible-playbook from the project venv (make venv)")
            return result
        # Plain JSON types: the facts arrive as Ansible's tagged containers.
        docs = json.loads(json.dumps(args["facts"]))
        try:
            cluster = model.build_cluster(docs, data_path=args["data_path"], results_path=args["results_path"],
                                          interface=args["interface"] or None)
            drift = None
            if args["start"]:
                drift = model.drift_findings(model.read_cluster_info(args["start"]), cluster)
            if not self._task.check_mode:
                model.write_cluster_info(args["dest"], cluster)
        except UserError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        except OSError as exc:
            result.update(failed=True, msg=f"cannot write {args['dest']}: {exc}; check that the results "
                                           "directory is writable on the controller")
            return result
        findings = cluster.findings + (drift or [])
        report = [*model.format_host_table(cluster).splitlines(), *(f.line() for f in findings)]
        if drift is not None:
            count = f"{len(drift)} finding(s), the SYS-DRIFT lines above" if drift else "none"
            report.append(f"drift since {args['start']}: {count}")
        written = "would write" if self._task.check_mode else "wrote"
        report.append(f"{written} {os.path.abspath(args['dest'])}")
        result.update(
            changed=False,  # a snapshot of what is there; nothing on any host changes
            dest=args["dest"],
            totals=cluster.totals(),
            hosts=[h.hostname for h in cluster.hosts],
            findings=[model.finding_to_dict(f) for f in cluster.findings],
            report=report,
        )
        if drift is not None:
            result["drift"] = [model.finding_to_dict(f) for f in drift]
        if self._task.check_mode:
            result["cluster"] = cluster.to_dict()  # nothing was written: a --check plan reads it from here
        return result
