"""mlps.jsonio: atomic writes keep the old file on any failure; bounded JSON reads refuse
oversized, deeply nested, invalid and non-regular files with a message naming the path."""

import errno
import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlps import jsonio
from mlps.errors import UserError
from mlps.jsonio import ReadError, load_json, nesting_exceeds, parse_json, shape_problem, write_json_atomic


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- writing -------------------------------------------------------------------------------------
def test_write_json_atomic_writes_json_with_newline_readable_by_others(tmp_path):
    path = tmp_path / "sub" / "out.json"
    assert write_json_atomic(path, {"b": 1, "a": [1, 2]}, sort_keys=True) == path
    assert path.read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(path.parent) == []


def test_write_replaces_the_previous_content(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}


def test_full_disk_keeps_the_old_file_and_names_the_path(tmp_path, monkeypatch):
    path = tmp_path / "metadata.json"
    write_json_atomic(path, {"v": 1})

    def no_space(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jsonio.os, "fsync", no_space)
    with pytest.raises(UserError) as caught:
        write_json_atomic(path, {"v": 2})
    message = str(caught.value)
    assert str(path) in message and "No space left on device" in message and "free space" in message
    assert "\n" not in message
    assert json.loads(path.read_text()) == {"v": 1}
    assert leftovers(tmp_path) == []


def test_target_that_is_a_directory_is_a_user_error(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match=r"cannot write .*taken \(Is a directory\)"):
        jsonio.write_text_atomic(tmp_path / "taken", "x")
    assert leftovers(tmp_path) == []


def test_parent_that_is_a_file_is_a_user_error_with_the_callers_hint(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=r"cannot write .*file/out.json .*or choose a writable --out"):
        jsonio.write_text_atomic(tmp_path / "file" / "out.json", "x", hint="choose a writable --out directory")


def test_interrupt_mid_write_removes_the_temp_file_and_propagates(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"v": 1})

    def interrupted(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(jsonio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1} and leftovers(tmp_path) == []


def test_data_json_cannot_hold_touches_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "out.json", {"v": object()})
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(tmp_path / "out.json", {"v": object()}, default=lambda _o: "obj")
    assert json.loads((tmp_path / "out.json").read_text()) == {"v": "obj"}


# --- reading -------------------------------------------------------------------------------------
def test_load_json_reads_a_document(tmp_path):
    (tmp_path / "a.json").write_text('{"a": [1, {"b": null}]}')
    assert load_json(tmp_path / "a.json") == {"a": [1, {"b": None}]}


def test_oversized_file_is_refused_from_its_size_without_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(1 << 40)                        # sparse 1 TiB: reading it would never end
    with pytest.raises(ReadError) as caught:
        load_json(big, max_bytes=1000)
    assert caught.value.kind == "too_large"
    assert str(big) in str(caught.value) and "above the 1000-byte limit" in str(caught.value)


def test_file_larger_than_its_stat_says_is_caught_while_reading():
    # /proc files report size 0 but hold content: the read itself must stop at the limit
    with pytest.raises(ReadError, match=r"at least 11 bytes is above the 10-byte limit"):
        jsonio.read_bytes("/proc/self/status", max_bytes=10)


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"k":', "}")])
def test_nesting_limit_is_exact(tmp_path, opener, closer):
    path = tmp_path / "n.json"
    path.write_text(opener * 64 + "1" + closer * 64)
    load_json(path)
    path.write_text(opener * 65 + "1" + closer * 65)
    with pytest.raises(ReadError) as caught:
        load_json(path)
    assert caught.value.kind == "unparsable"
    assert str(path) in str(caught.value) and "deeper than 64 levels" in str(caught.value)


def test_huge_nesting_is_refused_without_recursion(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 2_000_000 + "]" * 2_000_000)
    with pytest.raises(ReadError, match="deeper than 64 levels"):
        load_json(path)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"s": "[" * 500 + '\\"{' * 100, "t": ["]]]]"]})
    assert parse_json(text)["t"] == ["]]]]"]


def test_utf16_json_is_measured_on_its_characters():
    deep = ("[" * 70 + "]" * 70).encode("utf-16")
    assert nesting_exceeds(deep) is True
    assert parse_json(json.dumps({"x": "\u2022[" * 80}).encode("utf-16")) == {"x": "\u2022[" * 80}


def test_invalid_json_names_the_path(tmp_path):
    (tmp_path / "bad.json").write_bytes(b'{"a": ')
    with pytest.raises(ReadError, match=r"bad.json: not valid JSON.*; restore or regenerate") as caught:
        load_json(tmp_path / "bad.json")
    assert caught.value.kind == "unparsable"
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReadError, match="not valid JSON"):
        load_json(tmp_path / "bad.json")


def test_missing_fifo_and_symlink(tmp_path):
    with pytest.raises(ReadError) as caught:
        load_json(tmp_path / "absent.json")
    assert caught.value.errno == errno.ENOENT and caught.value.kind == "unreadable"
    os.mkfifo(tmp_path / "fifo.json")                   # opening a FIFO for reading must not block
    with pytest.raises(ReadError, match="not a regular file"):
        load_json(tmp_path / "fifo.json")
    (tmp_path / "real.json").write_text("{}")
    os.symlink(tmp_path / "real.json", tmp_path / "link.json")
    assert load_json(tmp_path / "link.json") == {}
    with pytest.raises(ReadError) as caught:
        load_json(tmp_path / "link.json", follow_symlinks=False)
    assert caught.value.kind == "symlink"


# --- properties ----------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{"\\a', max_size=3), inner,
                                                                max_size=3),
    max_leaves=40)


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, limit=st.integers(0, 8), indent=st.sampled_from([None, 1]))
def test_nesting_check_agrees_with_the_real_depth(value, limit, indent):
    text = json.dumps(value, indent=indent)
    assert nesting_exceeds(text, limit) is (depth(value) > limit)
    assert nesting_exceeds(text.encode("utf-16"), limit) is (depth(value) > limit)


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=24) | st.text(alphabet='"[]{}\\a: ', max_size=24).map(str.encode))
def test_the_quick_skeleton_is_the_regex_one(raw):
    """Any bytes, valid JSON or not: the quote-pair shortcut gives what the string regex gives."""
    slow = jsonio._STRING.sub(b"", raw).translate(jsonio._SKELETON, jsonio._NOT_BRACKETS)
    assert jsonio._skeleton(raw) == slow


def test_shape_problem_refuses_aliases_cycles_and_depth():
    shared = [1, 2]
    assert shape_problem({"a": shared, "b": shared}).startswith("reuses a mapping or list")
    loop: list = []
    loop.append(loop)
    assert shape_problem(loop).startswith("reuses")
    deep: list = []
    node = deep
    for _ in range(64):
        node.append([])
        node = node[0]
    assert shape_problem(deep) == "nested deeper than 64 levels"
    assert shape_problem({"a": [1, {"b": [2]}], "c": "text"}) is None and shape_problem("x") is None
