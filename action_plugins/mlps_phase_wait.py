"""Action plugin mlps_phase_wait (documented in library/mlps_phase_wait.py): follow an async launch of a
campaign phase on the launcher - a DLIO datagen or training run, or a checkpointing invocation (DLIO or
the native engine) - printing one progress line per interval, until it ends.

One task instead of a looped include: a `when:` on a looped include_tasks is evaluated up front
(Ansible evaluates it for all items first) and a self-including poll file nests deeper with every poll. Each poll is one
mlps_dlio_progress call on the launcher that reads the new log lines (it knows DLIO's lines and the
native checkpoint engine's), waits up to a few seconds for the job to end (so the end is seen at
once, not at the next poll) and touches the launch's lease; polls follow each other without a
pause, so a stale lease really means the controller is gone. Shared by every campaign role, hence
the repository-level action_plugins/ folder.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC = {
    "jid": {"type": "str", "required": True},
    "log": {"type": "path", "required": True},
    "label": {"type": "str", "default": "phase"},
    "total_epochs": {"type": "int"},
    "interval": {"type": "float", "default": 10.0},
    "max_wait": {"type": "float", "default": 0.0},
    "lease_file": {"type": "path"},
}
# Longest one poll waits on the launcher: well under the launch's lease timeout.
POLL_WAIT = 3.0


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
        printed = started - args["interval"]
        while True:
            poll = {"path": args["log"], "offset": offset, "job_id": args["jid"], "async_dir": async_dir,
                    "wait": min(POLL_WAIT, args["interval"])}
            optional = {"state": state, "total_epochs": args["total_epochs"], "lease_file": args["lease_file"]}
            poll.update({key: value for key, value in optional.items() if value})
            progress = self._execute_module(module_name="mlps_dlio_progress", module_args=poll, task_vars=task_vars)
            if progress.get("failed"):
                result.update(failed=True, finished=False, job={}, msg=f"{args['label']}: {progress.get('msg')}")
                return result
            offset, state = progress.get("offset", offset), progress.get("state", state)
            job = progress.get("job", {})
            now = time.monotonic()
            if job.get("finished") or now - printed >= args["interval"]:
                display.display(f"  {args['label']}: {progress.get('text', '')}")
                printed = now
            if job.get("finished"):
                break
            # Safety net only: the launch has its own timeout, which stops it on every host.
            if args["max_wait"] and now - started > args["max_wait"]:
                result.update(failed=True, finished=False, job=job,
                              msg=f"{args['label']}: still running after {args['max_wait']:.0f} s of waiting")
                return result
        result.update(changed=False, finished=True, job=job, progress=progress.get("progress", {}),
                      text=progress.get("text", ""), waited=round(time.monotonic() - started, 3))
        return result
