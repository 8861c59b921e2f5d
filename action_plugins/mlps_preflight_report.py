"""Action plugin mlps_preflight_report: every check from what the preflight gathered, the table,
and preflight.json (mlps-preflight/1), on the controller.
Documented in ../library/mlps_preflight_report.py.

It runs in the controller's Python, which has mlps (the venv running ansible-playbook): the
check list, the fixes per OS, the clock arithmetic and the capacity plan all live in
mlps.preflight. It never fails the task itself; the role's last task does, from `ok`.
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
    "dest": {"type": "path", "required": True},
    "hosts": {"type": "list", "elements": "str", "default": []},
    "launcher": {"type": "str", "default": ""},
    "settings": {"type": "dict", "default": {}},
    "specs": {"type": "dict", "default": {}},
    "clocks": {"type": "dict", "default": {}},
    "probes": {"type": "dict", "default": {}},
    "launch": {"type": "dict", "default": {}},
    "sentinel": {"type": "dict", "default": {}},
    "controller": {"type": "dict", "default": {}},
    "ckpt_probe": {"type": "dict", "default": {}},
    "skipped": {"type": "bool", "default": False},
    "skip_reason": {"type": "str", "default": ""},
}


class ActionModule(MlpsAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    WRITE_HINT = "check that mlps_results_dir is writable on the controller"

    def step(self, args, check):
        from mlps import preflight  # noqa: PLC0415 - imported when the step runs

        first = (args["settings"].get(args["launcher"]) or next(iter(args["settings"].values()), {}))
        if args["skipped"]:
            checks, plan = [], None
        else:
            gathered = preflight.Gathered(
                hosts=args["hosts"], launcher=args["launcher"], settings=args["settings"], specs=args["specs"],
                clocks=args["clocks"], probes=args["probes"], launch=args["launch"], sentinel=args["sentinel"],
                controller=args["controller"], ckpt_probe=args["ckpt_probe"])
            checks, plan = preflight.build_checks(gathered)
        document = preflight.report_document(checks, plan, first, skipped=args["skipped"],
                                             skip_reason=args["skip_reason"])
        if not check:                 # a what-if prints the table and returns the document, writes nothing
            preflight.write_report(args["dest"], document)
        table = preflight.render_table(checks) if checks else [f"preflight skipped: {args['skip_reason']}"]
        summary = preflight.summary_line(checks) if checks else "preflight skipped"
        return {
            "changed": False,  # a report of what is there; the file is rewritten on every run by design
            "dest": os.path.abspath(args["dest"]),
            "ok": document["ok"],
            "summary": document["summary"],
            "plan": document["plan"],
            "checks": document["checks"],
            "failed_checks": [f"{c.name} on {c.host}" for c in checks if c.failed],
            "table": [*table, "", summary, f"{'would write' if check else 'wrote'} {os.path.abspath(args['dest'])}"],
            "message": summary,
        }
