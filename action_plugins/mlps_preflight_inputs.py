"""Action plugin mlps_preflight_inputs: refuse hostile names, paths and DLIO values on the controller,
before the preflight creates or writes anything. Documented in ../library/mlps_preflight_inputs.py.

The allow-lists live in mlps.inputs (through mlps.preflight), unit-tested without Ansible.
"""

from __future__ import annotations

import json

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {"hosts": {"type": "dict", "required": True}}


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            from mlps import preflight  # noqa: PLC0415 - only the controller has it
        except ImportError as exc:
            result.update(failed=True, msg=f"the controller's Python cannot import mlps ({exc}); run "
                                           "ansible-playbook from the project venv (make venv)")
            return result
        hosts = json.loads(json.dumps(args["hosts"]))  # plain JSON types, not Ansible's containers
        problems = preflight.input_problems(hosts)
        result.update(changed=False, problems=problems)
        if problems:
            result.update(failed=True, msg="\n".join([
                f"{len(problems)} inventory value(s) refused before anything was written:", *problems]))
        return result
