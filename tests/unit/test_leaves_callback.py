"""callback_plugins/mlps_leaves.py: an interrupt whose KeyboardInterrupt was lost is raised again."""

import importlib.util
import signal
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "callback_plugins" / "mlps_leaves.py"


@pytest.fixture
def plugin_with_handlers():
    """The callback built over stand-ins for Ansible's handlers (what its task queue manager installs
    first); the test's own handlers are put back after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    seen = []

    def ansible_handler(signum, _frame):
        seen.append(signum)
        raise KeyboardInterrupt

    for sig in saved:
        signal.signal(sig, ansible_handler)
    spec = importlib.util.spec_from_file_location("mlps_leaves_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        yield module.CallbackModule(), seen
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_lost_interrupt_is_raised_again_at_the_next_task(plugin_with_handlers, sig):
    callback, seen = plugin_with_handlers
    callback.v2_playbook_on_task_start(None, False)          # nothing pending: the play goes on
    with pytest.raises(KeyboardInterrupt):                     # what a destructor would swallow
        signal.getsignal(sig)(sig, None)
    assert seen == [signal.SIGINT]                             # Ansible's handler ran, as Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        callback.v2_playbook_on_task_start(None, False)


def test_no_interrupt_no_raise_on_results(plugin_with_handlers):
    callback, seen = plugin_with_handlers

    class Result:   # the shape of Ansible's TaskResult that the plugin reads
        def __init__(self):
            self._task = type("Task", (), {"action": "ansible.builtin.debug", "args": {}})()
            self._result = {"changed": False}

    callback.v2_runner_on_ok(Result())
    callback._note_interrupt()
    with pytest.raises(KeyboardInterrupt):
        callback.v2_runner_on_ok(Result())
    assert seen == []
