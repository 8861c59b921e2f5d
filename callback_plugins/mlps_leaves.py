"""Callback plugin mlps_leaves: a leaf is never left saying `running` by a campaign that stopped.

The controller records a phase's end itself (mlps_campaign phase_end). When ansible-playbook is
interrupted (Ctrl-C, SIGINT) that task never runs, so this plugin, which lives in the controller's
main process, remembers the leaves a campaign opened and, when the process exits, marks those still
`running` as `interrupted`. The launch stops itself on every host once nobody follows it (the
lease of library/mlps_mpirun.py). A campaign that dies harder (SIGKILL, lost controller) leaves
`running`, which the next campaign on that workload turns into `interrupted` (mlps.campaign.resume).
"""

from __future__ import annotations

import atexit

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: mlps_leaves
type: aggregate
short_description: Mark the results leaves of an interrupted campaign as interrupted
description:
  - Remembers the leaves mlps_campaign, mlps_ckpt_campaign or mlps_kvcache_campaign opened (op
    phase_start) and closed (op phase_end, or finish); at the end of the play or when the process
    exits, marks those whose metadata still says running.
requirements:
  - mlps importable by the controller's Python (the project venv)
"""


# The campaign actions whose phase_start results (marker, leaf, stamp) open a leaf and whose
# phase_end results (leaf, status) close it: training's, checkpointing's and KV-cache's (whose run
# leaf holds every trial: a trial's end says `leaf_open`, and the run's finish closes it).
TRACKED_ACTIONS = ("mlps_campaign", "mlps_ckpt_campaign", "mlps_kvcache_campaign")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mlps_leaves"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self._open = {}
        atexit.register(self._close, "interrupted",
                        "ansible-playbook stopped (interrupted) while this phase ran; the launch stops itself "
                        "on every host once nobody follows it")

    def _track(self, result):
        if result._task.action not in TRACKED_ACTIONS:
            return
        record = result._result
        leaf = record.get("leaf")
        if not leaf:
            return
        if ("marker" in record or record.get("opens_leaf")) and record.get("changed"):
            self._open[leaf] = record.get("stamp")
        elif "status" in record and not record.get("leaf_open"):
            self._open.pop(leaf, None)

    def v2_runner_on_ok(self, result):
        self._track(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._track(result)

    def v2_playbook_on_stats(self, stats):
        self._close("failed", "the play ended before this phase's end was recorded (a host failed or became "
                              "unreachable after the launch)")

    def _close(self, status, message):
        if not self._open:
            return
        try:
            from mlps.campaign.frame import close_if_running  # noqa: PLC0415 - only with the project venv
        except ImportError:
            return
        for leaf, stamp in list(self._open.items()):
            try:
                close_if_running(leaf, stamp, status, message)
            except Exception as exc:  # never let a callback break the exit
                self._display.warning(f"could not mark {leaf} as {status}: {exc}")
            self._open.pop(leaf, None)
