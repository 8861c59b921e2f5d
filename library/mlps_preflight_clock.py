#!/usr/bin/python
"""Documentation of the mlps_preflight_clock action (the code is ../action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_preflight_clock
short_description: Read a client's clock between two readings of the controller's
description:
  - Runs C(date +%s.%N) on the client twice over the same connection (no module is copied) and
    returns the second reading with the controller's clock just before and just after it, so the
    preflight can compute the client's offset and its uncertainty (half the round trip).
  - The first call opens or warms the connection and is not measured.
  - An unreachable client gives the usual unreachable result (use C(ignore_unreachable)).
version_added: "0.1.0"
author: mlps developers
options: {}
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Read every client's clock
  mlps_preflight_clock:
  register: clock
  ignore_unreachable: true
"""

RETURN = r"""
host_time:
  description: The client's clock (Unix seconds).
  type: float
  returned: success
before:
  description: The controller's clock just before the measured call.
  type: float
  returned: success
after:
  description: The controller's clock just after the measured call.
  type: float
  returned: success
"""
