"""The confined opener (safe_path), the bounded walk (tree_walk) and the bounded YAML/JSON Lines
readers (jsonio) on real files and folders."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mlps import jsonio, tree_walk
from mlps.safe_path import OutsideRoot, ensure_dir_under, open_under


@pytest.fixture
def layout(tmp_path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "b" / "in.json").write_text("{}")
    (outside / "secret.json").write_text('{"secret": 1}')
    return root, outside


def test_a_folder_link_out_at_any_depth_is_refused(layout):
    root, outside = layout
    (root / "a" / "out").symlink_to(outside)
    with pytest.raises(OutsideRoot):
        open_under(root, root / "a" / "out" / "secret.json")
    with pytest.raises(jsonio.ReadError) as caught:
        jsonio.load_json(root / "a" / "out" / "secret.json", root=root)
    assert caught.value.kind == "symlink" and "outside the tree" in str(caught.value)


def test_links_that_stay_inside_are_read_where_they_point(layout):
    root, _outside = layout
    (root / "alias").symlink_to(root / "a" / "b")
    (root / "file.json").symlink_to("a/b/in.json")
    assert jsonio.load_json(root / "alias" / "in.json", root=root) == {}
    assert jsonio.load_json(root / "file.json", root=root) == {}


def test_a_relative_dotdot_path_out_is_refused(layout):
    root, _outside = layout
    with pytest.raises(OutsideRoot):
        open_under(root, "a/../../outside/secret.json")


def test_ensure_dir_under_creates_folders_and_refuses_a_planted_link(layout):
    root, outside = layout
    ensure_dir_under(root, "x/y/z")
    assert (root / "x" / "y" / "z").is_dir()
    (root / "x" / "trap").symlink_to(outside)
    with pytest.raises(OSError) as caught:
        ensure_dir_under(root, "x/trap/deeper")
    assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert list(outside.iterdir()) == [outside / "secret.json"]
    with pytest.raises(OSError):
        ensure_dir_under(root, "x/../../escape")


def test_walk_is_iterative_and_capped(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(60):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    seen = []

    def visit(path, rel, depth):
        seen.append(depth)
        return [e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]

    refused = tree_walk.walk(tmp_path, visit, max_depth=10)
    assert max(seen) == 10 and len(refused) == 1 and "deeper than 10" in refused[0][1]
    seen.clear()
    refused = tree_walk.walk(tmp_path, visit, max_folders=5)
    assert len(seen) == 5 and "more than 5 folders" in refused[0][1]


def test_yaml_is_capped_and_refuses_aliases():
    with pytest.raises(jsonio.ReadError) as caught:
        jsonio.parse_yaml("a: [" + "1," * jsonio.YAML_MAX_BYTES + "1]", "big.yaml")
    assert caught.value.kind == "too_large" and "big.yaml" in str(caught.value)
    with pytest.raises(jsonio.ReadError, match="anchors/aliases"):
        jsonio.parse_yaml("a: &a [1, 2]\nb: *a\n", "alias.yaml")
    assert jsonio.parse_yaml("a: 1\n", "ok.yaml") == {"a": 1}


def test_jsonl_skips_deep_and_broken_lines():
    records, skipped = jsonio.parse_jsonl(b'{"a": 1}\n' + b"[" * 100_000 + b"\nnot json\n\n[1]\n")
    assert records == [{"a": 1}, [1]] and skipped == 2
