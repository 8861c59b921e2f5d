"""Action plugin mlps_cluster_info (documented in library/mlps_cluster_info.py): the cluster view
built on the controller, in the controller's own Python.

It runs where mlps is installed (the venv running ansible-playbook), so it imports the
cluster model directly instead of starting a module and a CLI process per call; the model, the
findings and the file format all live in mlps.cluster.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError

try:
    from mlps.plugins.action import MlpsAction
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

ARGUMENT_SPEC = {
    "facts": {"type": "list", "elements": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "data_path": {"type": "str"},
    "results_path": {"type": "str"},
    "interface": {"type": "str"},
    "start": {"type": "path"},
}


class ActionModule(MlpsAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    WRITE_HINT = "check that the results directory is writable on the controller"

    def step(self, args, check):
        from mlps import cluster as model  # noqa: PLC0415 - imported when the step runs

        cluster = model.build_cluster(args["facts"], data_path=args["data_path"], results_path=args["results_path"],
                                      interface=args["interface"] or None)
        drift = None
        if args["start"]:
            drift = model.drift_findings(model.read_cluster_info(args["start"]), cluster)
        if not check:
            model.write_cluster_info(args["dest"], cluster)
        findings = cluster.findings + (drift or [])
        report = [*model.format_host_table(cluster).splitlines(), *(f.line() for f in findings)]
        if drift is not None:
            count = f"{len(drift)} finding(s), the SYS-DRIFT lines above" if drift else "none"
            report.append(f"drift since {args['start']}: {count}")
        report.append(f"{'would write' if check else 'wrote'} {os.path.abspath(args['dest'])}")
        out = {
            "changed": False,  # a snapshot of what is there; nothing on any host changes
            "dest": args["dest"],
            "totals": cluster.totals(),
            "hosts": [h.hostname for h in cluster.hosts],
            "findings": [model.finding_to_dict(f) for f in cluster.findings],
            "report": report,
        }
        if drift is not None:
            out["drift"] = [model.finding_to_dict(f) for f in drift]
        if check:
            out["cluster"] = cluster.to_dict()  # nothing was written: a --check plan reads it from here
        return out
