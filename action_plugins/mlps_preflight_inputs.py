"""Action plugin mlps_preflight_inputs: refuse hostile names, paths and DLIO values on the controller,
before the preflight creates or writes anything. Documented in ../library/mlps_preflight_inputs.py.

The allow-lists live in mlps.inputs (through mlps.preflight), unit-tested without Ansible.
"""

from __future__ import annotations

from ansible.errors import AnsibleError

try:
    from mlps.plugins.action import MlpsAction
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

ARGUMENT_SPEC = {"hosts": {"type": "dict", "required": True}}


class ActionModule(MlpsAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def step(self, args, check):
        from mlps import preflight  # noqa: PLC0415 - imported when the step runs

        problems = preflight.input_problems(args["hosts"])
        out = {"changed": False, "problems": problems}
        if problems:
            out.update(failed=True, msg="\n".join([
                f"{len(problems)} inventory value(s) refused before anything was written:", *problems]))
        return out
