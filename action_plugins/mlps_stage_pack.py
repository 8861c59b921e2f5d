"""Action plugin mlps_stage_pack (documented in library/mlps_stage_pack.py): runs the module of the
same name with `async_dir` set to the host's own async folder, so a configured `async_dir`
(ansible_async_dir, ANSIBLE_ASYNC_DIR) is honoured and the sampler's job is found at once instead
of after the module's whole wait.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

try:
    from mlps.plugins.action import remote_async_dir
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("async_dir"):
            args["async_dir"] = remote_async_dir(self)
        result.update(self._execute_module(module_name="mlps_stage_pack", module_args=args, task_vars=task_vars))
        return result
