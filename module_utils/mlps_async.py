"""Ansible's async job files, read the way async_status reads them, in one place.

A job file that is not complete JSON yet means the job is still running; a record without
`started` is the final one. Pure stdlib, Python 3.8 syntax: runs inside Ansible modules.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Optional


def read_job(async_dir: str, jid: str) -> Optional[dict]:
    """The job's record with `finished` set, or None when no such job file exists."""
    path = os.path.join(os.path.expanduser(async_dir), jid)
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError:
        return {"started": True, "finished": False}
    try:
        data = json.loads(text)
    except ValueError:
        return {"started": True, "finished": False}
    if not isinstance(data, dict):
        return {"started": True, "finished": False}
    if "started" not in data:
        data["finished"] = True
    data.setdefault("finished", False)
    return data


def forget_job(async_dir: str, jid: str) -> None:
    """Remove a finished job's file (what async_status's cleanup does), ignoring a file already gone."""
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(os.path.expanduser(async_dir), jid))
