"""Live progress of a DLIO 2.0.0 run from its log (dlio.log or the captured stderr), read incrementally.

DLIO writes lines such as
  [INFO] 2026-11-25T14:35:43.740656 Max steps per epoch: 4 = 1 * 16 / 2 / 2 (samples per file ...) [file:line]
  [INFO] 2026-11-25T14:35:43.779084 Starting epoch 1: 4 steps expected [file:line]
  [INFO] 2026-11-25T14:35:44.099443 Rank 0 step 1 processed 2 samples in 0.3198 s [file:line]
  [INFO] 2026-11-25T14:35:44.368432 Ending epoch 1 - 4 steps completed in 0.59 s [file:line]
  [INFO] \r[INFO] 2026-11-25T14:35:30.759937 Generating NPZ Data: [===>---] 43.8% 7 of 16  [file:line]
(the datagen bar starts with a carriage return, so lines are split on \\n only). Its timestamps
are local time without a zone. The checkpointing campaign's native engine (module_utils/
mlps_ckpt_native.py) logs in the same way, stamp first:
  2026-11-25T14:35:43.740656 [INFO] llama3-8b 8 ranks on 2 hosts: 10 writes, 10 reads of 1468006 bytes ...
  2026-11-25T14:35:49.801233 [INFO] save_ckpt 3/10 done: 0.412 s, 1.902 GiB/s (slowest rank 5)
  2026-11-25T14:36:40.117001 [INFO] checkpointing done: 10 writes, 10 reads
so one reader follows every campaign (phase `checkpointing`, writes and reads done). The KV-cache
engine (module_utils/mlps_kvcache.py) writes, from rank 0, about once a second and at its end:
  2026-11-25T14:35:43.740656 mlps-kvcache progress label="option 1 trial 2" elapsed=12.0 duration=300 \
      requests=1234 read_bytes=1288490188 write_bytes=214748364
  2026-11-25T14:40:44.001120 mlps-kvcache done label="option 1 trial 2" elapsed=300.4 requests=30100 ...
(phase `kvcache`; every line carries running totals, so the last one read is the state). The VectorDB
driver (module_utils/mlps_vectordb.py) writes, at most once a second per process:
  2026-11-25T14:35:43.740656 mlps-vectordb load progress elapsed=3.0 phase=insert rows=20000 total=100000 \
      index_pct=-
  2026-11-25T14:35:43.740656 mlps-vectordb query progress elapsed=12.0 rank=0 queries=24000 qps=2000.0 errors=0
and `done` in place of `progress` at its end (phase `vectordb`; load lines carry the load's state, query
lines one rank's running totals, summed over the ranks seen).

`read_progress(path, offset, state)` reads what was appended since `offset` (complete lines only;
a partial last line waits for the next call), at most `max_bytes` of it (when more is waiting it
jumps to the tail), and returns the new state and offset. The state is a plain JSON-able dict so
an Ansible play can carry it from one poll to the next. `summarize(state, total_epochs, now)` gives
the progress figures and a one-line text. Nothing in a log makes either raise.

Pure stdlib, Python 3.8 syntax.
One file on purpose: the wait module ships it to the launcher as its only helper.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re

SCHEMA = "mlps-dlio-progress/1"
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# How far `now` may lag behind the log's last timestamp (clock or zone mismatch) before it is ignored.
_CLOCK_SLACK = 60.0

_STAMPED = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?) (.*)")
_STEP = re.compile(r"Rank (\d+) step (\d+) processed ")
_EVENTS = (
    ("running", re.compile(r"Running DLIO with (\d+) process")),
    ("datagen_start", re.compile(r"Starting data generation")),
    ("generating", re.compile(r"Generating (\w+) Data: \[[=>-]*\] *[\d.]+% (\d+) of (\d+)")),
    ("datagen_done", re.compile(r"Generation done")),
    ("max_steps", re.compile(r"Max steps per epoch: (\d+) ")),
    ("epoch_start", re.compile(r"Starting epoch (\d+): (?:(\d+) steps expected|Overriding number of steps to (\d+))")),
    ("epoch_end", re.compile(r"Ending epoch (\d+) - (\d+) steps completed")),
    ("eval_start", re.compile(r"Starting eval - (\d+) steps expected")),
    ("eval_end", re.compile(r"Ending eval - ")),
    ("checkpoint_start", re.compile(r"Starting checkpoint (\d+) ")),
    ("checkpoint_end", re.compile(r"Ending checkpoint (\d+) ")),
    ("saved", re.compile(r"Saved outputs in ")),
    # the native checkpoint engine's lines (its [INFO] comes after the stamp)
    ("ckpt_plan", re.compile(r"(?:\[INFO\] )?\S+ (\d+) ranks on \d+ hosts?: (\d+) writes, (\d+) reads ")),
    ("ckpt_done", re.compile(r"(?:\[INFO\] )?(save|load)_ckpt (\d+)/(\d+) done")),
    ("ckpt_all_done", re.compile(r"(?:\[INFO\] )?checkpointing done: (\d+) writes, (\d+) reads")),
    # the KV-cache engine's running totals
    ("kv_line", re.compile(r'mlps-kvcache (progress|done) label="((?:[^"\\]|\\.)*)" elapsed=(\d+(?:\.\d+)?)'
                           r"(?: duration=(\d+(?:\.\d+)?(?:e[+-]?\d+)?))? requests=(\d+) read_bytes=(\d+)"
                           r" write_bytes=(\d+)")),
    # the VectorDB driver's lines: key=value pairs after the elapsed seconds
    ("vdb_line", re.compile(r"mlps-vectordb (load|query) (progress|done) elapsed=(\d+(?:\.\d+)?)"
                            r"((?: [a-z_]+=[\w.+-]+)*) *$")),
)
PHASES = ("waiting", "starting", "datagen", "train", "eval", "checkpoint", "checkpointing", "kvcache", "vectordb",
          "done")


def new_state() -> dict:
    return {
        "schema": SCHEMA, "phase": "waiting", "ranks": None,
        "epoch": None, "step": 0, "steps_per_epoch": None, "epochs_done": 0,
        "eval_step": 0, "eval_steps": None, "checkpoint": None,
        "files_done": 0, "files_total": None, "data_format": None,
        "first_time": None, "last_time": None, "train_start": None, "datagen_start": None,
        "lines": 0, "skipped_bytes": 0, "inode": None, "error": None,
        "writes": None, "reads": None, "writes_done": 0, "reads_done": 0, "ckpt_start": None,
        "kv_label": None, "kv_elapsed": None, "kv_duration": None, "kv_requests": None,
        "kv_read_bytes": None, "kv_write_bytes": None,
        "vdb_kind": None, "vdb_phase": None, "vdb_elapsed": None, "vdb_rows": None, "vdb_total": None,
        "vdb_index_pct": None, "vdb_ranks": {},
    }


def _usable(state) -> dict:
    """A state from a previous call, or a new one when it is missing or not ours."""
    fresh = new_state()
    if not isinstance(state, dict) or state.get("schema") != SCHEMA:
        return fresh
    for key, value in state.items():
        if key in fresh:
            fresh[key] = value
    if fresh["phase"] not in PHASES:
        fresh["phase"] = "starting"
    return fresh


def _timestamp(text: str) -> float:
    """DLIO's `datetime.now()` ISO stamp (local time, no zone) as Unix seconds."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S").timestamp()


# ---------------------------------------------------------------------------------------------
# Lines into state


def _on_step(state: dict, step: int) -> None:
    if state["phase"] == "eval":
        state["eval_step"] = max(state["eval_step"] or 0, step)
        return
    if state["phase"] in ("checkpoint", "starting", "waiting"):
        state["phase"] = "train"  # steps after a checkpoint, or a tail read that missed the epoch start
    state["step"] = max(state["step"] or 0, step)


def _apply(state: dict, event: str, groups: tuple, ts: float) -> None:
    if event == "running":
        state["ranks"] = int(groups[0])
    elif event == "datagen_start":
        state["phase"], state["datagen_start"] = "datagen", ts
    elif event == "generating":
        state["phase"], state["data_format"] = "datagen", groups[0]
        state["files_total"] = int(groups[2])
        state["files_done"] = max(state["files_done"] or 0, int(groups[1]))
        state["datagen_start"] = state["datagen_start"] or ts
    elif event == "datagen_done":
        state["phase"] = "done"
        if state["files_total"] is not None:
            state["files_done"] = state["files_total"]
    elif event == "max_steps":
        state["steps_per_epoch"] = int(groups[0])
    elif event == "epoch_start":
        epoch = int(groups[0])
        state.update(phase="train", epoch=epoch, step=0, steps_per_epoch=int(groups[1] or groups[2]))
        state["epochs_done"] = max(state["epochs_done"] or 0, epoch - 1)  # a tail read may miss ends
        state["train_start"] = state["train_start"] or ts
    elif event == "epoch_end":
        epoch = int(groups[0])
        state.update(phase="train", epoch=epoch, step=state["steps_per_epoch"] or int(groups[1]))
        state["epochs_done"] = max(state["epochs_done"] or 0, epoch)
    elif event == "eval_start":
        state.update(phase="eval", eval_steps=int(groups[0]), eval_step=0)
    elif event in ("eval_end", "checkpoint_end"):
        state["phase"] = "train"
    elif event == "checkpoint_start":
        state.update(phase="checkpoint", checkpoint=int(groups[0]))
    elif event == "saved":
        state["phase"] = "done"


def _apply_checkpointing(state: dict, event: str, groups: tuple, ts: float) -> None:
    """The native checkpoint engine's lines: its plan line, one line per checkpoint, its last line."""
    if event == "ckpt_plan":
        state.update(phase="checkpointing", ranks=int(groups[0]), writes=int(groups[1]), reads=int(groups[2]))
    elif event == "ckpt_done":
        kind = "writes" if groups[0] == "save" else "reads"
        state["phase"] = "checkpointing"
        state[kind] = state[kind] if state[kind] is not None else int(groups[2])
        state[kind + "_done"] = max(state[kind + "_done"] or 0, int(groups[1]))
    else:  # ckpt_all_done
        state.update(phase="done", writes_done=int(groups[0]), reads_done=int(groups[1]))
    state["ckpt_start"] = state["ckpt_start"] or ts


def _apply_kvcache(state: dict, event: str, groups: tuple, ts: float) -> None:
    """The KV-cache engine's lines: each carries the run's totals so far, so the newest one wins."""
    kind, label, elapsed, duration, requests, read, written = groups
    state.update(phase="done" if kind == "done" else "kvcache", kv_label=json.loads('"' + label + '"'),
                 kv_elapsed=float(elapsed), kv_requests=int(requests), kv_read_bytes=int(read),
                 kv_write_bytes=int(written))
    if duration is not None and math.isfinite(float(duration)):
        state["kv_duration"] = float(duration)


def _vdb_int(fields: dict, key: str):
    value = fields.get(key)
    return int(value) if value is not None and value.isdigit() else None


def _apply_vectordb(state: dict, event: str, groups: tuple, ts: float) -> None:
    """The VectorDB driver's lines: a load's phase and counts, or one query rank's running totals."""
    kind, status, elapsed, rest = groups
    fields = dict(item.split("=", 1) for item in rest.split())
    if kind != state["vdb_kind"]:  # a new run in the same log: forget the other kind's figures
        state.update(vdb_kind=kind, vdb_ranks={}, vdb_rows=None, vdb_total=None, vdb_index_pct=None)
    state.update(phase="done" if status == "done" and kind == "load" else "vectordb",
                 vdb_elapsed=float(elapsed), vdb_phase=fields.get("phase", state["vdb_phase"]))
    if kind == "load":
        pct = fields.get("index_pct", "-")
        state.update(vdb_rows=_vdb_int(fields, "rows"), vdb_total=_vdb_int(fields, "total"),
                     vdb_index_pct=float(pct) if re.fullmatch(r"\d+(?:\.\d+)?", pct) else None)
        return
    rank = _vdb_int(fields, "rank")
    qps = fields.get("qps", "0")
    ranks = dict(state["vdb_ranks"] or {})
    ranks[str(rank if rank is not None else 0)] = {
        "queries": _vdb_int(fields, "queries") or 0, "errors": _vdb_int(fields, "errors") or 0,
        "qps": float(qps) if re.fullmatch(r"\d+(?:\.\d+)?", qps) else 0.0, "done": status == "done"}
    state["vdb_ranks"] = ranks
    if all(entry["done"] for entry in ranks.values()):
        state["phase"] = "done"


def feed_line(state: dict, line: str) -> None:
    """Fold one log line into `state`; a line that is not DLIO's (or is damaged) changes nothing."""
    found = _STAMPED.search(line)
    if not found:
        return
    try:
        ts = _timestamp(found.group(1))
        message = found.group(2)
        step = _STEP.match(message)
        if step:
            _on_step(state, int(step.group(2)))
        else:
            for event, pattern in _EVENTS:
                match = pattern.match(message)
                if match:
                    apply = (_apply_checkpointing if event.startswith("ckpt_") else
                             _apply_kvcache if event.startswith("kv_") else
                             _apply_vectordb if event.startswith("vdb_") else _apply)
                    apply(state, event, match.groups(), ts)
                    break
    except (ValueError, OverflowError, OSError):  # impossible dates, 5000-digit numbers: not DLIO's
        return
    state["first_time"] = state["first_time"] if state["first_time"] is not None else ts
    state["last_time"] = ts if state["last_time"] is None else max(state["last_time"], ts)


def feed_text(state: dict, text: str) -> None:
    for line in text.split("\n"):
        if line.strip():
            state["lines"] += 1
            feed_line(state, line)


# ---------------------------------------------------------------------------------------------
# A growing file into state


def read_progress(path: str, offset: int = 0, state=None, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[dict, int]:
    """Fold the complete lines appended to `path` since `offset` into `state`; (state, new offset).

    A missing file leaves everything as it was (DLIO may not have started). A file that shrank
    or was replaced starts over from its beginning. When more than `max_bytes` is waiting, only
    the last `max_bytes` are read, starting at the first whole line (counted in skipped_bytes).
    """
    state = _usable(state)
    offset = offset if isinstance(offset, int) and offset >= 0 else 0
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if (state["inode"] is not None and info.st_ino != state["inode"]) or info.st_size < offset:
                state, offset = new_state(), 0
            state["inode"], state["error"] = info.st_ino, None
            if state["phase"] == "waiting":
                state["phase"] = "starting"
            resync = info.st_size - offset > max_bytes
            if resync:
                state["skipped_bytes"] += info.st_size - max_bytes - offset
                offset = info.st_size - max_bytes
            handle.seek(offset)
            data = handle.read(max_bytes)
    except FileNotFoundError:
        return state, offset
    except OSError as exc:
        state["error"] = f"{path}: {exc.strerror or exc}"
        return state, offset
    if resync:  # the jump landed inside a line: drop up to its end
        cut = data.find(b"\n") + 1
        state["skipped_bytes"] += cut
        offset, data = offset + cut, data[cut:]
    end = data.rfind(b"\n") + 1
    if end == 0:
        if len(data) >= max_bytes:  # one line longer than max_bytes: not a DLIO line, skip it
            state["skipped_bytes"] += len(data)
            offset += len(data)
        return state, offset
    feed_text(state, data[:end].decode("utf-8", "replace"))
    return state, offset + end


# ---------------------------------------------------------------------------------------------
# State into figures and text


def format_duration(seconds) -> str:
    """45s, 1m12s, 2h05m."""
    total = round(max(0.0, float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _reference_time(state: dict, now) -> float | None:
    """`now` while the run goes on (progress stalls show as time passing), else the last log time."""
    last = state["last_time"]
    if last is None:
        return None
    if now is not None and state["phase"] != "done" and now >= last - _CLOCK_SLACK:
        return max(float(now), last)
    return last


def _train_figures(state: dict, total_epochs, ref):
    """(fraction, eta) of the whole training, None where unknown."""
    per_epoch = state["steps_per_epoch"]
    if state["phase"] == "done":
        return 1.0, 0.0
    if not per_epoch or not total_epochs:
        return None, None
    epochs_done = min(state["epochs_done"] or 0, total_epochs)
    current = state["step"] if state["epoch"] is not None and state["epoch"] > epochs_done else 0
    done = epochs_done * per_epoch + min(current or 0, per_epoch)
    total = total_epochs * per_epoch
    fraction = min(1.0, done / total)
    start = state["train_start"]
    if not done or start is None or ref is None or ref <= start:
        return fraction, None
    rate = done / (ref - start)
    return fraction, max(0.0, (total - done) / rate)


def _checkpoint_figures(state: dict, ref):
    """(fraction, eta) of a checkpointing run: checkpoints written and read over those planned."""
    total = (state["writes"] or 0) + (state["reads"] or 0)
    if state["phase"] == "done":
        return 1.0, 0.0
    if not total:
        return None, None
    done = (state["writes_done"] or 0) + (state["reads_done"] or 0)
    fraction = min(1.0, done / total)
    start = state["ckpt_start"]
    if not done or start is None or ref is None or ref <= start:
        return fraction, None
    return fraction, (ref - start) * (1.0 - fraction) / fraction


def _kvcache_figures(state: dict, ref):
    """(fraction, eta, elapsed) of a KV-cache run: the run's own elapsed seconds (plus, while it runs, the
    time since its last line) over its duration. A log holding several trials shows the newest."""
    duration, elapsed = state["kv_duration"], state["kv_elapsed"] or 0.0
    if state["phase"] == "done":
        return 1.0, 0.0, elapsed
    if ref is not None and state["last_time"] is not None:
        elapsed += max(0.0, ref - state["last_time"])
    if not duration:
        return None, None, elapsed
    return min(1.0, elapsed / duration), max(0.0, duration - elapsed), elapsed


def _gibps(value: float) -> str:
    """1.2 GiB/s, 12 GiB/s, 0.034 GiB/s: about two significant digits."""
    if value >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _kvcache_text(state: dict) -> str:
    label = state["kv_label"] or "KV cache"
    elapsed = state["kv_elapsed"] or 0.0
    rate = (state["kv_read_bytes"] or 0) / 2 ** 30 / elapsed if elapsed > 0 else 0.0
    requests = f"{state['kv_requests']:,} request{'s' if state['kv_requests'] != 1 else ''}"
    if state["phase"] == "done":
        return f"{label} done: {elapsed:.0f} s, {requests}, read {_gibps(rate)} GiB/s"
    of = f" of {state['kv_duration']:g} s" if state["kv_duration"] else ""
    return f"{label}: {elapsed:.0f} s{of}, {requests}, read {_gibps(rate)} GiB/s so far"


def _vectordb_figures(state: dict) -> tuple:
    """(fraction, text) of a VectorDB load (rows inserted, then the index build) or query run."""
    phase = state["vdb_phase"] or "?"
    if state["vdb_kind"] == "load":
        rows, total, pct = state["vdb_rows"] or 0, state["vdb_total"], state["vdb_index_pct"]
        if state["phase"] == "done":
            return 1.0, f"VectorDB load done: {rows:,} rows in {format_duration(state['vdb_elapsed'] or 0)}"
        if phase == "insert" and total:
            return min(1.0, rows / total), f"VectorDB load: inserted {rows:,}/{total:,} rows"
        if phase == "index":
            return None, "VectorDB load: index build " + (f"{pct:.0f}%" if pct is not None else "started")
        return None, f"VectorDB load: {phase.replace('_', ' ')}"
    ranks = state["vdb_ranks"] or {}
    queries = sum(entry["queries"] for entry in ranks.values())
    qps = sum(entry["qps"] for entry in ranks.values())
    errors = sum(entry["errors"] for entry in ranks.values())
    done = "done" if state["phase"] == "done" else "so far"
    count = f"{len(ranks)} rank{'s' if len(ranks) != 1 else ''}"
    return (1.0 if state["phase"] == "done" else None,
            f"VectorDB queries ({count}): {queries:,} queries, {qps:,.0f} QPS, {errors} errors {done}")


def _datagen_figures(state: dict, ref):
    total, done = state["files_total"], state["files_done"] or 0
    if state["phase"] == "done":
        return 1.0, 0.0
    if not total:
        return None, None
    fraction = min(1.0, done / total)
    start = state["datagen_start"]
    if not done or start is None or ref is None or ref <= start:
        return fraction, None
    return fraction, (ref - start) * (1.0 - fraction) / fraction


def _text(state: dict, figures: dict) -> str:  # noqa: PLR0911 - one sentence per phase
    phase, epochs = state["phase"], figures["epochs"]
    tail = ""
    if figures["elapsed"] is not None:
        tail = f" elapsed {format_duration(figures['elapsed'])}"
        if figures["eta"] is not None and phase != "done":
            tail += f", about {format_duration(figures['eta'])} left"
    pct = f" ({figures['percent']}%)" if figures["percent"] is not None else ""
    if phase == "waiting":
        return "waiting for the DLIO log"
    if phase == "starting":
        return "DLIO starting" + ("," + tail if tail else "")
    counts = (f"writes {state['writes_done']}/{state['writes'] if state['writes'] is not None else '?'}, "
              f"reads {state['reads_done']}/{state['reads'] if state['reads'] is not None else '?'}")
    if phase == "checkpointing":
        return f"{counts}{pct}{tail}"
    if phase == "done":
        spent = f" in {format_duration(figures['elapsed'])}" if figures["elapsed"] is not None else ""
        if state["writes"] is not None or state["reads"] is not None:
            return f"checkpointing done: {counts}{spent}"
        if state["files_total"] is not None and state["epoch"] is None:
            return f"datagen done: {state['files_total']} files{spent}"
        count = state["epochs_done"] or state["epoch"] or 0
        return f"training done: {count} epoch{'s' if count != 1 else ''}{spent}"
    if phase == "datagen":
        total = state["files_total"] if state["files_total"] is not None else "?"
        return f"datagen {state['files_done']}/{total} files{pct}{tail}"
    where = "epoch ?" if state["epoch"] is None else f"epoch {state['epoch']}"
    if epochs:
        where += f"/{epochs}"
    per_epoch = state["steps_per_epoch"] if state["steps_per_epoch"] is not None else "?"
    if phase == "eval":
        eval_steps = state["eval_steps"] if state["eval_steps"] is not None else "?"
        return f"{where} eval step {state['eval_step']}/{eval_steps}{pct}{tail}"
    if phase == "checkpoint":
        return f"{where} checkpoint {state['checkpoint']}{pct}{tail}"
    return f"{where} step {state['step']}/{per_epoch}{pct}{tail}"


def summarize(state, total_epochs=None, now=None) -> dict:
    """Progress figures for display: phase, epoch/epochs, step/steps_per_epoch, files, fraction,
    percent, elapsed and eta (seconds, None when unknown) and `text`, one line for a person."""
    state = _usable(state)
    total_epochs = total_epochs if isinstance(total_epochs, int) and total_epochs > 0 else None
    ref = _reference_time(state, now)
    elapsed = None if ref is None or state["first_time"] is None else max(0.0, ref - state["first_time"])
    datagen = state["phase"] == "datagen" or (state["files_total"] is not None and state["epoch"] is None)
    checkpointing = state["writes"] is not None or state["reads"] is not None
    kvcache = state["kv_requests"] is not None
    vectordb = state["vdb_kind"] is not None
    if vectordb:
        fraction, vdb_text = _vectordb_figures(state)
        eta = 0.0 if fraction == 1.0 else None
    elif kvcache:
        fraction, eta, elapsed = _kvcache_figures(state, ref)
    elif checkpointing:
        fraction, eta = _checkpoint_figures(state, ref)
    else:
        fraction, eta = (_datagen_figures(state, ref) if datagen else _train_figures(state, total_epochs, ref))
    if state["phase"] in ("waiting", "starting"):
        fraction, eta = (None, None) if state["phase"] == "waiting" else (0.0, None)
    figures = {
        "phase": state["phase"], "ranks": state["ranks"],
        "epoch": state["epoch"], "epochs": total_epochs, "step": state["step"],
        "steps_per_epoch": state["steps_per_epoch"], "epochs_done": state["epochs_done"],
        "eval_step": state["eval_step"], "eval_steps": state["eval_steps"],
        "files_done": state["files_done"], "files_total": state["files_total"],
        "writes": state["writes"], "reads": state["reads"],
        "writes_done": state["writes_done"], "reads_done": state["reads_done"],
        "label": state["kv_label"], "requests": state["kv_requests"],
        "read_bytes": state["kv_read_bytes"], "write_bytes": state["kv_write_bytes"],
        "fraction": None if fraction is None else round(fraction, 4),
        "percent": None if fraction is None else int(fraction * 100),
        "elapsed": None if elapsed is None else round(elapsed, 3),
        "eta": None if eta is None else round(eta, 3),
        "done": state["phase"] == "done",
        "error": state["error"],
    }
    figures["text"] = vdb_text if vectordb else _kvcache_text(state) if kvcache else _text(state, figures)
    return figures
