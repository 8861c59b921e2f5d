"""One bounded, iterative walk over the folders of an untrusted tree.

An explicit stack instead of recursion (1,100 nested folders crashed a recursive walk), a depth
cap and a cap on the folders visited: what lies past either is reported, not walked. Folders are
visited top-down, children in the order `visit` returns them; `visit` decides which to enter
(only real folders: the caller never hands back a symlink).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

MAX_DEPTH = 48             # results trees are about 12 levels deep (v1.0 per-host runs about 14)
MAX_FOLDERS = 200_000      # a v3.0 submission round holds about 20,000 folders
MAX_ENTRIES = 100_000      # entries listed per folder; a run folder holds a few dozen


def walk(root: Path, visit: Callable[[Path, str, int], list[str]], *, max_depth: int = MAX_DEPTH,
         max_folders: int = MAX_FOLDERS) -> list[tuple[str, str]]:
    """Call visit(path, rel, depth) for `root` (rel "") and each folder it asks to enter; returns
    (rel, reason) for each folder not entered because a cap was reached."""
    refused: list[tuple[str, str]] = []
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    visited = 0
    while stack:
        path, rel, depth = stack.pop()
        if visited >= max_folders:
            refused.append((rel, f"more than {max_folders} folders in the tree; this one and "
                                 f"{len(stack)} more not read"))
            break
        visited += 1
        children = visit(path, rel, depth)
        if children and depth + 1 > max_depth:
            refused.append((rel, f"folders nested deeper than {max_depth} levels; what is below not read"))
            continue
        # reversed: the stack pops the first child first, as a recursive walk would
        stack.extend((path / name, f"{rel}/{name}" if rel else name, depth + 1) for name in reversed(children))
    return refused
