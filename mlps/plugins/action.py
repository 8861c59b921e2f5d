"""The frame of every controller action plugin in action_plugins/.

A plugin names its steps, each with its own argument spec, and writes one `step_<name>` method per
step; this base validates the arguments of the step asked for (a missing or unknown one fails the
task with Ansible's own message, never a traceback), hands the method plain JSON types, and turns
a UserError or an OSError into a failed task with a one-line message.
"""

from __future__ import annotations

import json
from typing import ClassVar

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from mlps.errors import UserError

display = Display()

# The arguments of a phase's start and end every benchmark's action takes (mlps.campaign.phase);
# a benchmark adds its own.
PHASE_START = {
    "staging_dir": {"type": "str", "required": True},
    "mpi": {"type": "dict", "required": True},
    "context": {"type": "dict", "default": {}},
    "files": {"type": "dict", "default": {}},
    "copies": {"type": "dict", "default": {}},
}
PHASE_END = {
    "leaf": {"type": "path", "required": True},
    "stamp": {"type": "str", "required": True},
    "hosts_order": {"type": "list", "elements": "str", "default": []},
    "launcher": {"type": "str", "required": True},
    "archives": {"type": "dict", "default": {}},
    "job": {"type": "dict", "default": {}},
    "waited": {"type": "dict", "default": {}},
    "samples": {"type": "dict", "default": {}},
    "unreachable": {"type": "list", "elements": "str", "default": []},
    "verify": {"type": "bool", "default": False},
    "previous_findings": {"type": "list", "elements": "str", "default": []},
}


def plain(value):
    """Ansible's tagged containers as plain JSON types, all the way down."""
    return json.loads(json.dumps(value, default=str))


def merged_spec(steps: dict) -> dict:
    """Every option any step takes, with `op` - the whole surface the module documentation describes."""
    merged = {"op": {"type": "str", "required": True, "choices": list(steps)}}
    for spec in steps.values():
        for name, option in spec.items():
            merged.setdefault(name, {k: v for k, v in option.items() if k != "required"})
    return merged


def remote_async_dir(action: ActionBase) -> str:
    """The host's async job folder as Ansible itself uses it (the shell's `async_dir` option:
    ansible_async_dir, ANSIBLE_ASYNC_DIR), expanded on that host."""
    return action._remote_expand_user(action.get_shell_option("async_dir", default="~/.ansible_async"))


class MlpsAction(ActionBase):
    """Steps run in the controller's Python; the task's host is never contacted."""

    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    # {step name: argument spec}; a plugin with one step sets ARGUMENT_SPEC and `step` instead.
    STEPS: ClassVar[dict] = {}
    ARGUMENT_SPEC: ClassVar[dict] = {}
    # What to tell the user when writing on the controller fails.
    WRITE_HINT = "check that the results directory is writable on the controller (mlps_results_dir)"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self.STEPS:
            op = self._task.args.get("op")
            if op not in self.STEPS:
                result.update(failed=True, msg=f"{self._task.action}: op={op!r}: expected one of "
                                               f"{', '.join(sorted(self.STEPS))}")
                return result
            spec = {"op": {"type": "str", "required": True}, **self.STEPS[op]}
            method = getattr(self, f"step_{op}")
        else:
            op, spec, method = self._task.action, self.ARGUMENT_SPEC, self.step
        _validation, args = self.validate_argument_spec(argument_spec=spec)
        try:
            result.update(method(plain(args), self._task.check_mode))
        except UserError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            result.update(failed=True, msg=f"{op}: {exc.strerror or exc}{where}; {self.WRITE_HINT}")
        return result

    def step(self, args: dict, check: bool) -> dict:  # pragma: no cover - one-step plugins override it
        raise NotImplementedError

    @staticmethod
    def verdict_since(workload, label: str, previous: list) -> tuple[list, list]:
        """The verifier in this process (no subprocess per phase), printed as the play goes: the
        headline, then only the problems that are new since the previous phase (grouped), and how
        many are unchanged or gone. Returns the lines and the group keys for the next phase."""
        from mlps.rulebook.finding_groups import changes, group_findings, group_key  # noqa: PLC0415
        from mlps.rulebook.verify import verify  # noqa: PLC0415
        from mlps.safe_text import printable  # noqa: PLC0415

        document = verify(workload).as_dict()
        problems = [item for item in document["findings"] if item["outcome"] in ("INVALID", "OPEN", "ERROR",
                                                                                   "UNCHECKED")]
        groups = group_findings(problems)
        new, unchanged, gone = changes(groups, previous)
        lines = [f"verdict {label}: {document['verdict']} {json.dumps(document['counts'])}"]
        lines += [f"new: {group['line']}" for group in new]
        if unchanged or gone:
            lines.append(f"{unchanged} problem(s) as after the previous phase, {gone} no longer found")
        for line in lines:
            display.display(f"  {printable(line)}")
        return lines, [group_key(group) for group in groups]

    def with_verdict(self, out: dict, args: dict, workload) -> dict:
        """phase_end's result with the verdict so far when the task asked for it (verify)."""
        if args.get("verify"):
            out["verdict"], out["finding_keys"] = self.verdict_since(workload, f"after {args['label']}",
                                                                     args["previous_findings"])
        return out
