"""md5-tree-v2, the code-image hash of MLPerf Storage results trees (rule book §2.1), in one home:
the verifier recomputes a code image's hash with it, and the mlps_code_hash module hashes the code a
campaign really ran (the client venv's installed DLIO) with it.

Every regular file below the folder (symlinks and the excluded names skipped), sorted by its
relative path in UTF-8, fed into one MD5 as the path bytes followed by the file's bytes. Standard
library, Python 3.8 syntax (it also runs on the clients).
"""

from __future__ import annotations

import hashlib
import os
from fnmatch import fnmatch

ALGORITHM = "md5-tree-v2"
HASH_FILE = ".code-hash.json"
EXCLUDED = (".git", ".idea", ".vscode", "__pycache__", ".pytest_cache", ".venv", "node_modules", "build", "dist",
            ".tox", "test", "tests", "*.egg-info", HASH_FILE, ".DS_Store", "Thumbs.db", "*.pyc", "*.pyo")


def excluded(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in EXCLUDED)


def tree_hash(image) -> str:
    """md5-tree-v2 of a folder."""
    image = str(image)
    files = []
    for folder, dirs, names in os.walk(image):
        dirs[:] = sorted(d for d in dirs if not excluded(d) and not os.path.islink(os.path.join(folder, d)))
        for name in names:
            path = os.path.join(folder, name)
            if excluded(name) or os.path.islink(path) or not os.path.isfile(path):
                continue
            files.append(os.path.relpath(path, image).replace(os.sep, "/"))
    digest = hashlib.md5()  # noqa: S324 - the published algorithm, not a security hash
    for rel in sorted(files, key=lambda p: p.encode("utf-8")):
        digest.update(rel.encode("utf-8"))
        with open(os.path.join(image, rel), "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
