"""Callback plugin mlps_leaves: a leaf is never left saying `running` by a campaign that stopped.

The controller records a phase's end itself (mlps_campaign phase_end). When ansible-playbook is
interrupted (Ctrl-C, SIGINT) that task never runs, so this plugin, which lives in the controller's
main process, remembers the leaves a campaign opened and, when the process exits, marks those still
`running` as `interrupted`. The launch stops itself on every host once nobody follows it (the
lease of library/mlps_mpirun.py). A campaign that dies harder (SIGKILL, lost controller) leaves
`running`, which the next campaign on that workload turns into `interrupted` (mlps.campaign.resume).

SIGTERM is an interrupt too: it is what `scancel` sends to every process of a Slurm job (and what
`kill`, systemd and CI runners send). Python's default would end the process without its exit
hooks, so the main process turns SIGTERM into the same KeyboardInterrupt that Ctrl-C raises.

A KeyboardInterrupt can be lost: Python runs a signal handler at the next bytecode of the main
thread, and when that bytecode belongs to a destructor (Ansible's templates have one) the exception
is printed as "ignored" and the play goes on, with SIGINT already back at its default. So the plugin
remembers that an interrupt arrived and raises it again at the next task or result it is told of.

An embedded database server a VectorDB campaign started (mlps_vectordb_server op start) and did not
stop is stopped the same way when the process exits: with the stop op of that module, run on the
server's host through `ansible` with this run's inventory. BenchFS daemons a sweep started
(mlps_benchfs_daemon op start) and did not stop are stopped the same way, on their launcher: past the
stop timeout their mpirun is stopped, which ends the ranks on every server host.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: mlps_leaves
type: aggregate
short_description: Mark the results leaves of an interrupted campaign as interrupted
description:
  - Remembers the leaves mlps_campaign, mlps_ckpt_campaign, mlps_kvcache_campaign or
    mlps_vectordb_campaign opened (op phase_start) and closed (op phase_end, or finish); at the end
    of the play or when the process exits, marks those whose metadata still says running.
  - Remembers the embedded servers mlps_vectordb_server started and the BenchFS daemons
    mlps_benchfs_daemon started, and did not stop; when the process exits, stops them on their host.
requirements:
  - mlps importable by the controller's Python (the project venv)
"""


# The campaign actions whose phase_start results (marker, leaf, stamp) open a leaf and whose
# phase_end results (leaf, status) close it: training's, checkpointing's and KV-cache's (whose run
# leaf holds every trial: a trial's end says `leaf_open`, and the run's finish closes it).
TRACKED_ACTIONS = ("mlps_campaign", "mlps_ckpt_campaign", "mlps_kvcache_campaign", "mlps_vectordb_campaign",
                   "mlps_benchfs_campaign")
SERVER_ACTION = "mlps_vectordb_server"
DAEMON_ACTION = "mlps_benchfs_daemon"
SERVER_STOP_SECONDS = 120


def _terminate_as_interrupt(main_pid: int, previous, noted):
    """SIGTERM handled as Ctrl-C: Ansible's own handler (its task queue manager's) forwards the
    signal it is given to the workers and, for SIGINT, raises KeyboardInterrupt; for SIGTERM it would
    kill this process the default way, skipping the exit hooks. `noted()` records the interrupt."""
    def handler(_signum, frame):
        if os.getpid() != main_pid:  # a forked process inherited this: end it the default way
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        noted()
        if callable(previous):
            previous(signal.SIGINT, frame)
        raise KeyboardInterrupt
    return handler


def _interrupt_noted(main_pid: int, previous, noted):
    """SIGINT: record it (in the main process), then Ansible's handler as before."""
    def handler(signum, frame):
        if os.getpid() == main_pid:
            noted()
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt
    return handler


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mlps_leaves"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self._open = {}
        self._servers = {}
        atexit.register(self._stop_servers)
        atexit.register(self._close, "interrupted",
                        "ansible-playbook stopped (interrupted) while this phase ran; the launch stops itself "
                        "on every host once nobody follows it")
        self._pid = os.getpid()
        self._interrupted = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _terminate_as_interrupt(self._pid, signal.getsignal(signal.SIGTERM),
                                                                  self._note_interrupt))
            signal.signal(signal.SIGINT, _interrupt_noted(self._pid, signal.getsignal(signal.SIGINT),
                                                          self._note_interrupt))

    def _note_interrupt(self):
        self._interrupted = True

    def _interrupt_again(self):
        """The play goes on after an interrupt: its KeyboardInterrupt was lost, raise it again (only
        in the main thread, where Ansible's command line catches it)."""
        if self._interrupted and os.getpid() == self._pid and threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt

    def _track_server(self, result):
        args, record = result._task.args, result._result
        delegated = (record.get("_ansible_delegated_vars") or {}).get("ansible_delegated_host")
        key = (delegated or result._host.get_name(), args.get("state_file"), result._task.action)
        if args.get("op") == "start" and record.get("changed"):
            self._servers[key] = {"op": "stop", "python": args.get("python"), "script": args.get("script"),
                                  "state_file": args.get("state_file")}
            if result._task.action == DAEMON_ACTION:
                self._servers[key]["timeout"] = args.get("timeout")
        elif args.get("op") == "stop" and not record.get("failed"):
            self._servers.pop(key, None)

    def _stop_servers(self):
        """Stop what a campaign started and did not stop, with this run's own inventory."""
        if not self._servers:
            return
        try:
            from ansible import context  # noqa: PLC0415
            inventories = list(context.CLIARGS.get("inventory") or [])
        except Exception:  # never let a callback break the exit
            inventories = []
        adhoc = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "ansible")
        for (host, _state, action), args in list(self._servers.items()):
            argv = [adhoc, host, "-m", action, "-a", json.dumps({k: v for k, v in args.items() if v is not None})]
            for inventory in inventories:
                argv += ["-i", inventory]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=SERVER_STOP_SECONDS, check=False)
                said = "stopped" if done.returncode == 0 else f"could not be stopped (rc {done.returncode})"
            except (OSError, subprocess.TimeoutExpired) as exc:
                said = f"could not be stopped ({exc})"
            what = "BenchFS daemons launched" if action == DAEMON_ACTION else "database server"
            self._display.display(f"mlps: the {what} on {host} that this campaign started {said}")
            self._servers.pop((host, _state, action), None)

    def _track(self, result):
        if result._task.action in (SERVER_ACTION, DAEMON_ACTION):
            self._track_server(result)
            return
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

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._interrupt_again()

    def v2_runner_on_ok(self, result):
        self._track(result)
        self._interrupt_again()

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._track(result)
        self._interrupt_again()

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
