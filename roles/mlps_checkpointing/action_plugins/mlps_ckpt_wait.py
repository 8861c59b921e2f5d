"""Action plugin mlps_ckpt_wait (documented in roles/mlps_checkpointing/library/mlps_ckpt_wait.py):
follow an async checkpointing launch on the launcher, printing one progress line per poll, until it
ends.

One task rather than a looped include (DESIGN.md section 6). Each poll reads the run's log with
slurp (the native engine writes one line per checkpoint; DLIO its dlio.log) and asks async_status
whether the launch has finished.
"""

from __future__ import annotations

import base64
import re
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC = {
    "jid": {"type": "str", "required": True},
    "log": {"type": "path", "required": True},
    "label": {"type": "str", "default": "checkpointing"},
    "writes": {"type": "int", "default": 0},
    "reads": {"type": "int", "default": 0},
    "interval": {"type": "float", "default": 10.0},
    "max_wait": {"type": "float", "default": 0.0},
}
# the native engine's lines: "save_ckpt 3/10 done: ..." / "load_ckpt 3/10 done: ..."
DONE = re.compile(r"\b(save|load)_ckpt (\d+)/(\d+) done")


def progress_text(text: str, writes: int, reads: int) -> tuple[str, dict]:
    """'writes 3/10, reads 0/10 | <last log line>' from the log so far."""
    counts = {"save": 0, "load": 0}
    for kind, index, _total in DONE.findall(text):
        counts[kind] = max(counts[kind], int(index))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else "(no log yet)"
    head = f"writes {counts['save']}/{writes}, reads {counts['load']}/{reads}"
    return f"{head} | {last[-160:]}", {"writes_done": counts["save"], "reads_done": counts["load"]}


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
        started = time.monotonic()
        progress, text = {}, ""
        while True:
            # status first, then the log: the last line printed is read after the launch ended
            job = self._execute_module(module_name="ansible.legacy.async_status",
                                       module_args={"jid": args["jid"], "_async_dir": async_dir},
                                       task_vars=task_vars)
            log = self._execute_module(module_name="ansible.legacy.slurp", module_args={"src": args["log"]},
                                       task_vars=task_vars)
            if not log.get("failed") and log.get("content"):
                content = base64.b64decode(log["content"]).decode("utf-8", "replace")
                text, progress = progress_text(content, args["writes"], args["reads"])
                display.display(f"  {args['label']}: {text}")
            if job.get("finished") or "finished" not in job:
                break
            # Safety net only: the launch has its own timeout, which stops it on every host.
            if args["max_wait"] and time.monotonic() - started > args["max_wait"]:
                result.update(failed=True, finished=False, job=job,
                              msg=f"{args['label']}: still running after {args['max_wait']:.0f} s of waiting")
                return result
            time.sleep(args["interval"])
        result.update(changed=False, finished=True, job=job, progress=progress, text=text,
                      waited=round(time.monotonic() - started, 3))
        return result
