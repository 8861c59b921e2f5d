"""DLIO progress from real DLIO 2.0.0 logs (tests/fixtures/dlio), read whole, in pieces and from
the tail; damaged input never raises. The module runs for real through `ansible localhost -m`."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlps_module_utils import mlps_dlio_progress as prog
from mlps_module_utils.mlps_kvcache import progress_line
from tests.adhoc import run_module

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "dlio"
MODULE = ROOT / "library" / "mlps_dlio_progress.py"
BIN = Path(sys.executable).parent
STAMP = re.compile(r"(\d{4}-\d\d-\d\dT[\d:.]+) ")


def lines_of(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().split(b"\n")


def stamp(line: bytes) -> float:
    """The test's own reading of a line's timestamp (local time, as DLIO writes it)."""
    text = STAMP.search(line.decode()).group(1)
    return datetime.datetime.fromisoformat(text).timestamp()


def first_line(lines: list[bytes], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle.encode() in line)


def read_prefix(tmp_path: Path, name: str, count: int):
    """State after the first `count` lines of fixture `name`, read in one call."""
    lines = lines_of(name)
    log = tmp_path / name
    log.write_bytes(b"\n".join(lines[:count]) + b"\n")
    state, offset = prog.read_progress(str(log))
    assert offset == log.stat().st_size
    return state, lines


# -- whole logs ---------------------------------------------------------------------------------


def test_whole_datagen_log_is_done_with_all_files():
    state, offset = prog.read_progress(str(FIXTURES / "datagen_dlio.log"))
    assert offset == (FIXTURES / "datagen_dlio.log").stat().st_size
    figures = prog.summarize(state)
    assert (figures["phase"], figures["files_done"], figures["files_total"], figures["ranks"]) == ("done", 16, 16, 2)
    assert (figures["fraction"], figures["eta"], figures["done"]) == (1.0, 0.0, True)
    assert state["data_format"] == "NPZ"
    assert figures["text"] == "datagen done: 16 files in 0s"


@pytest.mark.parametrize("name", ["train_dlio.log", "train_stderr.log"])
def test_whole_training_log_is_done_after_three_epochs(name):
    state, _ = prog.read_progress(str(FIXTURES / name))
    figures = prog.summarize(state, total_epochs=3)
    assert (figures["phase"], figures["epoch"], figures["epochs_done"], figures["steps_per_epoch"]) == \
        ("done", 3, 3, 4)
    assert (figures["fraction"], figures["percent"], figures["eta"]) == (1.0, 100, 0.0)
    lines = [line for line in lines_of(name) if STAMP.search(line.decode())]
    assert figures["elapsed"] == pytest.approx(stamp(lines[-1]) - stamp(lines[0]), abs=1e-3)
    assert figures["text"] == "training done: 3 epochs in 4s"


def test_stderr_and_dlio_log_give_the_same_training_state():
    a, _ = prog.read_progress(str(FIXTURES / "train_dlio.log"))
    b, _ = prog.read_progress(str(FIXTURES / "train_stderr.log"))
    keys = ("phase", "epoch", "step", "steps_per_epoch", "epochs_done", "ranks", "first_time", "last_time",
            "train_start")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert b["lines"] > a["lines"]  # TensorFlow's warnings were read and ignored


# -- in the middle of a run ---------------------------------------------------------------------


def test_mid_epoch_figures_and_eta_follow_the_observed_rate(tmp_path):
    lines = lines_of("train_dlio.log")
    cut = first_line(lines, "Starting epoch 2") + 4  # ... Rank 1 step 1, Rank 0 step 1, Rank 0 step 2
    state, _ = read_prefix(tmp_path, "train_dlio.log", cut + 1)
    figures = prog.summarize(state, total_epochs=3)
    assert (figures["phase"], figures["epoch"], figures["step"], figures["epochs_done"]) == ("train", 2, 2, 1)
    done, total = 4 + 2, 3 * 4
    assert figures["fraction"] == pytest.approx(done / total, abs=1e-4)
    train_start = stamp(lines[first_line(lines, "Starting epoch 1")])
    last = stamp(lines[cut])
    rate = done / (last - train_start)
    assert figures["eta"] == pytest.approx((total - done) / rate, abs=1e-3)
    assert figures["elapsed"] == pytest.approx(last - stamp(lines[0]), abs=1e-3)
    assert figures["text"] == "epoch 2/3 step 2/4 (50%) elapsed 4s, about 1s left"


def test_without_total_epochs_the_fraction_is_unknown(tmp_path):
    lines = lines_of("train_dlio.log")
    state, _ = read_prefix(tmp_path, "train_dlio.log", first_line(lines, "Starting epoch 2") + 5)
    figures = prog.summarize(state)
    assert (figures["fraction"], figures["eta"], figures["epochs"]) == (None, None, None)
    assert figures["text"] == "epoch 2 step 2/4 elapsed 4s"


def test_datagen_midway_estimates_from_files_per_second(tmp_path):
    lines = lines_of("datagen_dlio.log")
    cut = first_line(lines, "7 of 16")
    state, _ = read_prefix(tmp_path, "datagen_dlio.log", cut + 1)
    figures = prog.summarize(state)
    assert (figures["phase"], figures["files_done"], figures["files_total"], figures["percent"]) == \
        ("datagen", 7, 16, 43)
    spent = stamp(lines[cut]) - stamp(lines[first_line(lines, "Starting data generation")])
    assert figures["eta"] == pytest.approx(spent * (9 / 16) / (7 / 16), abs=1e-3)  # figures keep ms
    assert figures["text"].startswith("datagen 7/16 files (43%) elapsed 0s, about 0s left")


def test_checkpoint_and_eval_phases(tmp_path):
    name = "train_eval_checkpoint_dlio.log"
    lines = lines_of(name)
    checkpoint = first_line(lines, "Starting checkpoint 1 after total step 4 for epoch 2")
    state, _ = read_prefix(tmp_path, name, checkpoint + 1)
    figures = prog.summarize(state, total_epochs=3)
    assert (figures["phase"], figures["epoch"], figures["step"]) == ("checkpoint", 2, 4)
    assert figures["text"].startswith("epoch 2/3 checkpoint 1 (66%) elapsed ")

    start_eval = first_line(lines, "Starting eval - 2 steps expected")
    state, _ = read_prefix(tmp_path, name, start_eval + 2)  # the eval start and one rank's eval step
    figures = prog.summarize(state, total_epochs=3)
    assert (figures["phase"], figures["eval_steps"], figures["eval_step"], figures["step"]) == ("eval", 2, 1, 4)
    assert figures["text"].startswith("epoch 1/3 eval step 1/2 (33%) elapsed ")

    state, _ = read_prefix(tmp_path, name, first_line(lines, "Starting epoch 2") + 1)
    assert (state["phase"], state["epoch"], state["step"], state["epochs_done"]) == ("train", 2, 0, 1)


def test_now_extends_elapsed_while_running_but_not_after_the_end(tmp_path):
    lines = lines_of("train_dlio.log")
    state, _ = read_prefix(tmp_path, "train_dlio.log", first_line(lines, "Starting epoch 2") + 5)
    base = prog.summarize(state, 3)
    later = prog.summarize(state, 3, now=state["last_time"] + 30)
    assert later["elapsed"] == pytest.approx(base["elapsed"] + 30, abs=1e-3)
    assert later["eta"] > base["eta"]  # no new steps in 30 s: the rate fell
    assert prog.summarize(state, 3, now=state["last_time"] - 3600)["elapsed"] == base["elapsed"]  # other clock
    done, _ = prog.read_progress(str(FIXTURES / "train_dlio.log"))
    assert prog.summarize(done, 3, now=done["last_time"] + 999)["elapsed"] == prog.summarize(done, 3)["elapsed"]


# -- reading a growing file ---------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 333, 4096])
def test_reading_in_pieces_gives_the_same_state_as_reading_at_once(tmp_path, chunk):
    data = (FIXTURES / "train_eval_checkpoint_dlio.log").read_bytes()
    log = tmp_path / "growing.log"
    log.write_bytes(b"")
    state, offset, calls = None, 0, 0
    for start in range(0, len(data), chunk):
        with log.open("ab") as handle:
            handle.write(data[start:start + chunk])
        state, offset = prog.read_progress(str(log), offset, state)
        calls += 1
        assert offset <= log.stat().st_size
        assert data[:offset].endswith(b"\n") or offset == 0  # only whole lines are consumed
    whole, whole_offset = prog.read_progress(str(FIXTURES / "train_eval_checkpoint_dlio.log"))
    assert offset == whole_offset == len(data)
    state.pop("inode")
    whole.pop("inode")
    assert state == whole
    assert calls == -(-len(data) // chunk)


def test_a_partial_line_waits_for_its_end(tmp_path):
    lines = lines_of("train_dlio.log")
    head = b"\n".join(lines[:first_line(lines, "Rank 0 step 2")]) + b"\n"
    step_line = lines[first_line(lines, "Rank 0 step 2")]
    log = tmp_path / "dlio.log"
    log.write_bytes(head + step_line[:40])
    state, offset = prog.read_progress(str(log))
    assert offset == len(head)
    assert state["step"] == 1
    log.write_bytes(head + step_line + b"\n")
    state, offset = prog.read_progress(str(log), offset, state)
    assert (state["step"], offset) == (2, len(head) + len(step_line) + 1)


def test_a_replaced_or_truncated_log_starts_over(tmp_path):
    log = tmp_path / "dlio.log"
    log.write_bytes((FIXTURES / "train_dlio.log").read_bytes())
    state, offset = prog.read_progress(str(log))
    assert state["phase"] == "done"
    log.write_bytes((FIXTURES / "datagen_dlio.log").read_bytes()[:1200])  # shorter: a new run
    state, offset = prog.read_progress(str(log), offset, state)
    assert (state["phase"], state["epoch"], state["steps_per_epoch"]) == ("datagen", None, None)
    replacement = tmp_path / "new.log"
    replacement.write_bytes((FIXTURES / "datagen_dlio.log").read_bytes() * 2)  # longer, other inode
    os.replace(replacement, log)
    state, offset = prog.read_progress(str(log), offset, state)
    assert (state["phase"], state["files_done"]) == ("done", 16)
    assert offset == log.stat().st_size


def test_only_the_tail_of_a_large_log_is_read(tmp_path):
    noise = b"W0000 00:00:1795617324.1 tensorflow warning that is not DLIO's\n" * 100_000
    body = (FIXTURES / "train_dlio.log").read_bytes()
    log = tmp_path / "big.log"
    log.write_bytes(noise + body)
    state, offset = prog.read_progress(str(log), 0, None, max_bytes=64 * 1024)
    assert offset == len(noise) + len(body)
    whole = noise + body
    first_whole_line = whole.index(b"\n", len(whole) - 64 * 1024) + 1
    assert state["skipped_bytes"] == first_whole_line  # everything before the tail's first whole line
    assert state["lines"] == whole[first_whole_line:].count(b"\n")  # and only the tail was parsed
    figures = prog.summarize(state, 3)
    assert (figures["phase"], figures["epochs_done"], figures["text"]) == ("done", 3, "training done: 3 epochs in 4s")


def test_a_line_longer_than_max_bytes_is_skipped(tmp_path):
    log = tmp_path / "dlio.log"
    log.write_bytes(b"x" * 3000)
    state, offset = prog.read_progress(str(log), 0, None, max_bytes=4096)
    assert (offset, state["skipped_bytes"]) == (0, 0)  # may still be a line being written
    log.write_bytes(b"x" * 4096)
    state, offset = prog.read_progress(str(log), offset, state, max_bytes=4096)
    assert (offset, state["skipped_bytes"]) == (4096, 4096)  # a whole read without a line end: skipped
    lines = lines_of("train_dlio.log")
    with log.open("ab") as handle:
        handle.write(b"x" * 100 + b"\n" + lines[first_line(lines, "Starting epoch 1")] + b"\n")
    state, offset = prog.read_progress(str(log), offset, state, max_bytes=4096)
    assert (state["epoch"], state["steps_per_epoch"], offset) == (1, 4, log.stat().st_size)
    log.write_bytes(log.read_bytes() + b"y" * 9000)  # more than max_bytes waiting: jump to the tail
    state, offset = prog.read_progress(str(log), offset, state, max_bytes=4096)
    assert (offset, state["skipped_bytes"], state["epoch"]) == (log.stat().st_size, 4096 + 9000, 1)


def test_missing_log_is_waiting_and_keeps_the_offset(tmp_path):
    state, offset = prog.read_progress(str(tmp_path / "not-yet.log"), 0)
    assert (state["phase"], offset) == ("waiting", 0)
    figures = prog.summarize(state, 5)
    assert (figures["text"], figures["fraction"], figures["elapsed"]) == ("waiting for the DLIO log", None, None)


def test_unreadable_log_is_reported_not_raised(tmp_path):
    state, offset = prog.read_progress(str(tmp_path), 0)  # a directory
    assert offset == 0
    assert state["error"].startswith(f"{tmp_path}: ")


@pytest.mark.parametrize("bad", [None, "text", 7, {"phase": "train"}, {"schema": "other/1"}])
def test_a_state_that_is_not_ours_starts_over(bad):
    state, _ = prog.read_progress(str(FIXTURES / "train_dlio.log"), 0, bad)
    assert (state["phase"], state["epochs_done"]) == ("done", 3)


def test_garbage_lines_change_nothing():
    state = prog.new_state()
    prog.feed_text(state, "\x00\x01\x02 binary\n[INFO] 2026-13-45T99:99:99.1 Rank 0 step 3 processed 2 samples\n"
                          "[INFO] 2026-11-25T14:35:44.099443 Rank 0 step " + "9" * 5000 + " processed 2 samples\n"
                          "Rank 0 step 3 processed 2 samples in 0.1 s (no timestamp)\n\n  \n")
    assert (state["step"], state["epoch"], state["first_time"], state["lines"]) == (0, None, None, 4)


def test_a_stamped_line_of_another_kind_only_moves_the_clock():
    state = prog.new_state()
    prog.feed_text(state, "[INFO] 2026-11-25T14:35:44.5 Starting epoch x: y steps expected\n")
    assert (state["epoch"], state["phase"]) == (None, "waiting")
    assert state["first_time"] == state["last_time"] == datetime.datetime(2026, 11, 25, 14, 35, 44, 500000).timestamp()


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (-5, "0s"), (59.4, "59s"), (72, "1m12s"),
                                                (3600, "1h00m"), (7322, "2h02m")])
def test_format_duration(seconds, text):
    assert prog.format_duration(seconds) == text


# -- property: nothing makes the reader or the summary raise ---------------------------------------

REAL_LINES = [line.decode() for name in ("train_eval_checkpoint_dlio.log", "datagen_dlio.log")
              for line in lines_of(name) if line]
PIECES = st.sampled_from(REAL_LINES) | st.sampled_from(
    ["\n", "\r", " ", "[INFO] ", "2026-11-25T14:35:44.099443 ", "Rank 0 step ", "Starting epoch ", "Ending epoch ",
     "Generating NPZ Data: [==>--] ", "% ", " of ", " steps expected", "Starting eval - ", "Ending eval - ",
     "Starting checkpoint ", "Saved outputs in ", "0", "1", "99999999999999999999", "-1", ":", ".",
     "mlps-kvcache progress ", "mlps-kvcache done ", 'label="a\\u12" ', 'label="\\"" ', "elapsed=1.5 ",
     "duration=0 ", "duration=1e999 ", "requests=3 read_bytes=9 write_bytes=1"],
) | st.text(max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.lists(PIECES, max_size=30).map("".join) | st.binary(max_size=64), max_size=8),
       epochs=st.one_of(st.none(), st.integers(-3, 10)), max_bytes=st.sampled_from([4096, 65536]))
def test_reader_and_summary_never_raise(tmp_path, chunks, epochs, max_bytes):
    log = tmp_path / "fuzz.log"
    log.write_bytes(b"")
    state, offset = None, 0
    for chunk in chunks:
        with log.open("ab") as handle:
            handle.write(chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else chunk)
        state, offset = prog.read_progress(str(log), offset, state, max_bytes=max_bytes)
        assert 0 <= offset <= log.stat().st_size
        figures = prog.summarize(state, epochs, now=1.8e9)
        json.dumps(state)
        json.dumps(figures)
        assert isinstance(figures["text"], str) and "\n" not in figures["text"]
        assert figures["fraction"] is None or 0.0 <= figures["fraction"] <= 1.0
        assert figures["eta"] is None or figures["eta"] >= 0.0
        assert figures["phase"] in prog.PHASES


# -- the KV-cache engine's lines ----------------------------------------------------------------


def kv_log(tmp_path: Path, *lines: str) -> dict:
    log = tmp_path / "kv.log"
    log.write_text("".join(lines))
    state, offset = prog.read_progress(str(log))
    assert offset == log.stat().st_size
    return state


def test_kvcache_progress_line_gives_label_time_requests_and_read_rate(tmp_path):
    read = int(1.2 * 2**30 * 12)
    state = kv_log(tmp_path, progress_line("progress", "option 1 trial 2", 0.0, 300, 0, 0, 0),
                   progress_line("progress", "option 1 trial 2", 12.0, 300, 1234, read, 5 * 2**20))
    figures = prog.summarize(state)
    assert figures["text"] == "option 1 trial 2: 12 s of 300 s, 1,234 requests, read 1.2 GiB/s so far"
    assert (figures["phase"], figures["label"], figures["requests"], figures["read_bytes"], figures["write_bytes"]) \
        == ("kvcache", "option 1 trial 2", 1234, read, 5 * 2**20)
    assert (figures["fraction"], figures["percent"], figures["eta"], figures["elapsed"]) == (0.04, 4, 288.0, 12.0)
    assert figures["done"] is False


def test_kvcache_now_moves_elapsed_and_eta_between_lines(tmp_path):
    state = kv_log(tmp_path, progress_line("progress", "opt", 100.0, 300, 10, 0, 0))
    later = prog.summarize(state, now=state["last_time"] + 50)
    assert (later["elapsed"], later["eta"], later["percent"]) == (150.0, 150.0, 50)
    assert later["text"] == "opt: 100 s of 300 s, 10 requests, read 0 GiB/s so far"  # the line's own figures


def test_kvcache_done_line_ends_the_run(tmp_path):
    state = kv_log(tmp_path, progress_line("progress", "option 3 trial 1", 299.0, 300, 999, 0, 0),
                   progress_line("done", "option 3 trial 1", 300.4, None, 1000, 30 * 2**30, 2**30))
    figures = prog.summarize(state, now=state["last_time"] + 500)
    assert (figures["phase"], figures["done"], figures["fraction"], figures["eta"], figures["elapsed"]) == \
        ("done", True, 1.0, 0.0, 300.4)
    assert figures["text"] == "option 3 trial 1 done: 300 s, 1,000 requests, read 0.1 GiB/s"


def test_kvcache_newest_trial_wins_and_labels_keep_their_quotes(tmp_path):
    label = 'trial "B" \\ 2'
    state = kv_log(tmp_path, progress_line("done", "trial A", 300.0, None, 500, 2**30, 0),
                   progress_line("progress", label, 3.0, 60, 1, 24 * 2**30, 0))
    figures = prog.summarize(state)
    assert (figures["phase"], figures["label"], figures["requests"]) == ("kvcache", label, 1)
    assert figures["text"] == f"{label}: 3 s of 60 s, 1 request, read 8.0 GiB/s so far"


def test_kvcache_damaged_lines_change_nothing(tmp_path):
    good = progress_line("progress", "x", 5.0, 60, 7, 0, 0)
    state = kv_log(tmp_path, good, good.replace("requests=7 ", ""), good.replace('label="x"', "label=x"),
                   good.replace("mlps-kvcache progress", "mlps-kvcache paused"))
    assert (state["kv_requests"], state["kv_elapsed"], state["phase"]) == (7, 5.0, "kvcache")
    assert state["lines"] == 4


def test_kvcache_without_a_label_says_kv_cache(tmp_path):
    state = kv_log(tmp_path, progress_line("progress", "", 30.0, 300, 2, 15 * 2**30, 0))
    assert prog.summarize(state)["text"] == "KV cache: 30 s of 300 s, 2 requests, read 0.5 GiB/s so far"


# -- the module ---------------------------------------------------------------------------------


def ansible(module_args: dict, *extra: str) -> tuple[str, dict]:
    return run_module("mlps_dlio_progress", module_args, *extra)[:2]


@pytest.mark.integration
def test_module_carries_offset_and_state_between_polls(tmp_path):
    lines = lines_of("train_dlio.log")
    log = tmp_path / "stderr.log"
    cut = first_line(lines, "Starting epoch 2") + 4
    log.write_bytes(b"\n".join(lines[:cut + 1]) + b"\n")
    status, first = ansible({"path": str(log), "total_epochs": 3}, "--check")
    assert status == "SUCCESS", first
    assert first["changed"] is False
    assert (first["offset"], first["progress"]["epoch"], first["progress"]["step"]) == (log.stat().st_size, 2, 2)
    assert first["text"].startswith("epoch 2/3 step 2/4 (50%) elapsed ")
    log.write_bytes((FIXTURES / "train_dlio.log").read_bytes())
    status, second = ansible({"path": str(log), "total_epochs": 3, "offset": first["offset"], "state": first["state"]})
    assert status == "SUCCESS", second
    assert second["offset"] == log.stat().st_size
    assert (second["progress"]["phase"], second["text"]) == ("done", "training done: 3 epochs in 4s")
    assert second["state"]["lines"] == len([x for x in lines if x.strip()])  # each line read once


@pytest.mark.integration
def test_module_bad_arguments_name_each_problem(tmp_path):
    status, result = ansible({"path": "dlio.log", "offset": -1, "total_epochs": 0, "max_bytes": 10})
    assert status == "FAILED!"
    assert result["msg"] == ("path=dlio.log: expected an absolute path to dlio.log or the run's stderr log; "
                             "offset=-1: expected 0 or the offset the previous call returned; "
                             "total_epochs=0: expected the run's epoch count, at least 1; "
                             "max_bytes=10: expected at least 4096, such as 4194304")
    status, result = ansible({"path": str(tmp_path)})
    assert status == "FAILED!"
    assert result["msg"].startswith(f"path={tmp_path}: is a directory;")


@pytest.mark.integration
def test_ansible_doc_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_dlio_progress"],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stderr
    for option in ("path", "offset", "state", "total_epochs", "max_bytes"):
        assert option in proc.stdout
