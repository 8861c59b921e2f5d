"""Tar archives built in a test, shaped like what a client's mlps_stage_pack sends."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def make_tar(path: Path, members: dict) -> str:
    """Write an uncompressed tar of regular files {name: bytes or str}; returns its path."""
    with tarfile.open(path, "w") as tar:
        for name, content in members.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)
