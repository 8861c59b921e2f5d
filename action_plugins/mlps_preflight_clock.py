"""Action plugin mlps_preflight_clock: read a client's clock between two readings of the
controller's, for the preflight's clock-skew check.
Documented in ../library/mlps_preflight_clock.py.

`date +%s.%N` goes over the already open connection (no module is copied), so the round trip is
short; the first call opens the connection and is not measured. The arithmetic (offset, its
uncertainty, the spread between clients) lives in mlps.preflight.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        self._low_level_execute_command("date +%s.%N")  # opens (or warms) the connection
        before = time.time()
        out = self._low_level_execute_command("date +%s.%N")
        after = time.time()
        text = (out.get("stdout") or "").strip()
        try:
            host_time = float(text)
        except ValueError:
            result.update(failed=True, msg=f"cannot read the client's clock: `date +%s.%N` printed {text[:80]!r} "
                                           f"(rc {out.get('rc')}); the client needs GNU date")
            return result
        result.update(changed=False, host_time=host_time, before=before, after=after)
        return result
