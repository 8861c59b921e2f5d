"""Action plugin mlps_training_wait (documented in roles/mlps_training/library/mlps_training_wait.py):
follow an async DLIO launch on the launcher, printing one progress line per poll, until it ends.

One task instead of a looped include: a `when:` on a looped include_tasks is evaluated up front
(DESIGN.md section 6) and a self-including poll file nests deeper with every poll. Each poll runs
two existing modules on the launcher: mlps_dlio_progress (the line) and async_status (finished?).
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC = {
    "jid": {"type": "str", "required": True},
    "log": {"type": "path", "required": True},
    "label": {"type": "str", "default": "DLIO"},
    "total_epochs": {"type": "int"},
    "interval": {"type": "float", "default": 10.0},
    "max_wait": {"type": "float", "default": 0.0},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if self._task.check_mode:
            result.update(changed=False, finished=True, job={}, msg="check mode: nothing was launched to wait for")
            return result
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        offset, state, progress = 0, None, {}
        started = time.monotonic()
        while True:
            progress_args = {"path": args["log"], "offset": offset}
            if state is not None:
                progress_args["state"] = state
            if args["total_epochs"]:
                progress_args["total_epochs"] = args["total_epochs"]
            progress = self._execute_module(module_name="mlps_dlio_progress", module_args=progress_args,
                                            task_vars=task_vars)
            if not progress.get("failed"):
                offset, state = progress.get("offset", offset), progress.get("state", state)
                display.display(f"  {args['label']}: {progress.get('text', '')}")
            job = self._execute_module(module_name="ansible.legacy.async_status",
                                       module_args={"jid": args["jid"], "_async_dir": async_dir},
                                       task_vars=task_vars)
            if job.get("finished") or "finished" not in job:
                break
            # Safety net only: the launch has its own timeout, which stops it on every host.
            if args["max_wait"] and time.monotonic() - started > args["max_wait"]:
                result.update(failed=True, finished=False, job=job,
                              msg=f"{args['label']}: still running after {args['max_wait']:.0f} s of waiting")
                return result
            time.sleep(args["interval"])
        result.update(changed=False, finished=True, job=job, progress=progress.get("progress", {}),
                      text=progress.get("text", ""), waited=round(time.monotonic() - started, 3))
        return result
