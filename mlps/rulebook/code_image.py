"""Code images inside a results tree: the pointer a leaf keeps (`.mlps-code-image`,
`md5-tree-v2:<hash>`), where the image lies, its `.code-hash.json` and the tree hash recomputed.

md5-tree-v2 itself (the rule book's tree hash) is module_utils/mlps_code_hash.py's, shared with the
module that hashes the code a campaign ran on its clients."""

from __future__ import annotations

import re
from pathlib import Path

from mlps.jsonio import ReadError, parse_json, read_bytes
from mlps_module_utils.mlps_code_hash import ALGORITHM, HASH_FILE, tree_hash

__all__ = ["ALGORITHM", "HASH_FILE", "POINTER", "expected_place", "find_image", "read_hash_file", "read_pointer",
           "tree_hash"]

POINTER = ".mlps-code-image"
POINTER_RE = re.compile(r"^(md5-tree-v[12]):([0-9a-f]{32})$")
POINTER_MAX = 4096


def read_pointer(leaf_path: Path) -> tuple[str, str] | str | None:
    """(algorithm, hash) from a leaf's pointer; None without one; an error text when unreadable."""
    path = Path(leaf_path) / POINTER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        text = read_bytes(path, max_bytes=POINTER_MAX, follow_symlinks=False).decode("utf-8", "replace").strip()
    except ReadError as exc:
        return f"cannot read {POINTER}: {exc.detail}"
    match = POINTER_RE.match(text)
    return (match.group(1), match.group(2)) if match else f"{POINTER} holds {text[:80]!r}, not <algorithm>:<md5>"


def find_image(leaf_path: Path, root: Path, digest: str) -> Path | None:
    """code-<hash8>/ in a folder above the leaf (the org's pool) or its code-images/, up to the root."""
    name = f"code-{digest[:8]}"
    for folder in [Path(leaf_path), *Path(leaf_path).parents]:
        for candidate in (folder / name, folder / "code-images" / name):
            if candidate.is_dir() and not candidate.is_symlink():
                return candidate
        if folder == root:
            break
    return None


def expected_place(leaf_path: Path, root: Path, digest: str) -> str:
    """Where the image belongs, relative to the root: the org's pool (<division>/<org>/code-<hash8>/)."""
    name = f"code-{digest[:8]}"
    for folder in Path(leaf_path).parents:
        if folder.parent.name.lower() in ("closed", "open") and folder.is_relative_to(root):
            return (folder / name / HASH_FILE).relative_to(root).as_posix()
        if folder == root:
            break
    return f"{name}/{HASH_FILE}"


def read_hash_file(image: Path) -> dict | str:
    try:
        data = parse_json(read_bytes(image / HASH_FILE, max_bytes=1 << 20, follow_symlinks=False), HASH_FILE)
    except ReadError as exc:
        return f"{HASH_FILE}: {exc.detail}"
    return data if isinstance(data, dict) else f"{HASH_FILE}: expected a JSON object"
