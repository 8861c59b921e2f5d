"""A generated corpus of hostile results trees, and the check every one of them must pass: `mlps
verify` and `mlps report` run as separate processes under a 500 MB address-space limit end within
10 s with a verdict (0, 1, 3) or a documented error (2 usage, 4 unreadable tree) - never a crash
(6), never a signal, never a read or write outside the tree.

Each kind starts from a valid synthetic campaign (tests/unit/test_report_builders.py) and adds one
attack; `rng` varies the details. Shared by the suite (tests/fuzz/test_hostile_trees.py: each kind
once) and the long run (benchmarks/bench_fuzz.py, target `cli.hostile_trees`).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.unit.test_report_builders import build_campaign_tree

TIME_LIMIT = 10.0                   # seconds per command
MEMORY_LIMIT = 500 * 2**20          # bytes of address space per command
ALLOWED = {0: "CLOSED", 1: "OPEN", 2: "usage", 3: "INVALID", 4: "unreadable tree"}
WORKLOAD = "closed/Org/results/sys1/training/unet3d"
CANARY = "CANARY-hostile-7d41"


def _leaves(root: Path) -> list[Path]:
    return sorted(p for p in (root / WORKLOAD / "run").iterdir() if p.is_dir())


def _chain(parent: Path, name: str, depth: int) -> None:
    """parent/name/name/... `depth` levels, made by descriptor (the whole path exceeds PATH_MAX)."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a case, deep chains included (shutil.rmtree recurses once per level; rm does not)."""
    subprocess.run(["rm", "-rf", "--", str(path)], check=False)


# --- the kinds of attack --------------------------------------------------------------------------
def deep(root: Path, rng: random.Random, outside: Path) -> None:
    _chain(root / "closed", "d", rng.choice([60, 1_100, 3_000]))
    series = next(_leaves(root)[0].glob("*timeseries/*.jsonl"))
    with series.open("a") as handle:
        handle.write("[" * rng.choice([100, 200_000]) + "\n")
    (_leaves(root)[1] / "summary.json").write_text('{"a":' * rng.choice([65, 500_000]) + "1")


def wide(root: Path, rng: random.Random, outside: Path) -> None:
    crowd = root / "closed" / "Org" / "crowd"
    crowd.mkdir()
    for index in range(rng.choice([2_000, 20_000])):
        (crowd / f"f{index}").touch()
    for index in range(rng.choice([200, 2_000])):
        (crowd / f"d{index}").mkdir()


def huge(root: Path, rng: random.Random, outside: Path) -> None:
    leaf = _leaves(root)[0]
    with (leaf / "summary.json").open("r+b") as handle:       # sparse: costs no disk
        handle.truncate(rng.choice([65, 200, 1_000]) * 2**20)
    (leaf / "dlio_config" / "config.yaml").write_text("workload: [" + "1, " * (2**22 // 3) + "1]\n")
    if rng.random() < 0.25:                 # the largest JSON accepted: 60 MiB of distinct floats
        count = 60 * 2**20 // 20
        (_leaves(root)[1] / "0_per_epoch_stats.json").write_text(
            '{"1": {"x": [' + ",".join(f"{i}.123456789012" for i in range(count)) + "]}}")
    bomb = "a: &a [" + ",".join(["x"] * 9) + "]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    (_leaves(root)[1] / "dlio_config" / "overrides.yaml").write_text(bomb)


def cyclic_links(root: Path, rng: random.Random, outside: Path) -> None:
    leaf = _leaves(root)[0]
    (leaf / "loop").symlink_to(".")
    (root / "closed" / "up").symlink_to("..")
    (leaf / "a.json").symlink_to("b.json")
    (leaf / "b.json").symlink_to("a.json")
    (root / WORKLOAD / "self").symlink_to(root / WORKLOAD)
    os.mkfifo(_leaves(root)[1] / "0_per_epoch_stats.json.fifo")
    (_leaves(root)[1] / "0_per_epoch_stats.json").unlink()
    os.rename(_leaves(root)[1] / "0_per_epoch_stats.json.fifo", _leaves(root)[1] / "0_per_epoch_stats.json")


def links_out(root: Path, rng: random.Random, outside: Path) -> None:
    secret = outside / "credentials"
    secret.write_text(f"system_name: {CANARY}\naws_secret_access_key: {CANARY}\n")
    (outside / "results.json").write_text(json.dumps({"note": CANARY}))
    systems = root / "closed" / "Org" / "systems"
    systems.mkdir()
    (systems / "sys1.yaml").symlink_to(secret)
    workload = root / WORKLOAD
    (workload / "run").rename(workload / "kept")
    (workload / "run").symlink_to(outside)
    leaf = sorted(p for p in (workload / "kept").iterdir() if p.is_dir())[0]
    (leaf / "summary.json").unlink()
    (leaf / "summary.json").symlink_to(secret)
    target = rng.choice(["/dev/zero", "/dev/urandom", str(secret)])
    series = next(leaf.glob("*timeseries/*.jsonl"))
    series.unlink()
    series.symlink_to(target)
    (root / "report").symlink_to(outside)


def odd_encodings(root: Path, rng: random.Random, outside: Path) -> None:
    leaf = _leaves(root)[0]
    summary = json.loads((leaf / "summary.json").read_text())
    encoding = rng.choice(["utf-16", "utf-32-le", "utf-8-sig", "latin-1"])
    (leaf / "summary.json").write_bytes(json.dumps(summary, ensure_ascii=False).encode(encoding, "replace"))
    (leaf / "dlio_config" / "config.yaml").write_bytes("workload:\n  model: caf\xe9\n".encode("latin-1"))
    odd = os.fsdecode(b"Org\xff\xfe\x1b[2J")
    os.rename(root / "closed" / "Org", root / "closed" / odd)


def binary_names(root: Path, rng: random.Random, outside: Path) -> None:
    leaf = _leaves(root)[1]
    junk = bytes(rng.randrange(256) for _ in range(512))
    for raw in (b"\xff\xfe_summary.json", b"summary\x1b[31m.json", b"\x7f_per_epoch_stats.json",
                b"x\nverdict: CLOSED_metadata.json", b"\x01_output.json"):
        (leaf / os.fsdecode(raw)).write_bytes(junk)
    (leaf / "summary.json").write_bytes(junk)
    (leaf / os.fsdecode(b"training_\xc3_metadata.json")).write_text(json.dumps({"status": "\x1b]0;owned\x07"}))


def wrong_values(root: Path, rng: random.Random, outside: Path) -> None:
    leaf = _leaves(root)[0]
    summary = json.loads((leaf / "summary.json").read_text())
    metric = summary["metric"]
    metric["train_throughput_stdev_samples_per_second"] = rng.choice(["wide", [1], {"a": 1}, True])
    metric["train_throughput_mean_samples_per_second"] = rng.choice([1.7e308, -1e308, 5e-324])
    metric["train_au_percentage"] = ["x", None, 1e308, True]
    (leaf / "summary.json").write_text(json.dumps(summary).replace("1.7e+308", "1" + "0" * 400))
    series = next(leaf.glob("*timeseries/*.jsonl"))
    lines = series.read_text().splitlines()
    for index in range(0, len(lines), 3):
        sample = json.loads(lines[index])
        sample[rng.choice(["wall", "mono"])] = rng.choice(["later", None, 1e300, [1]])
        sample["counters"][rng.choice(["diskstats", "meminfo", "stat_cpu", "net_dev"])] = rng.choice(
            ["junk", [1, 2], {"sda": "x"}, {"Cached": "lots"}])
        lines[index] = json.dumps(sample)
    series.write_text("\n".join(lines) + "\n")


def injection(root: Path, rng: random.Random, outside: Path) -> None:
    name = rng.choice(['=HYPERLINK("evil.example","x")', "+cmd|' -C calc'!A0", "@SUM(1)", "-2+3", "\tx"])
    os.rename(root / "closed" / "Org" / "results" / "sys1", root / "closed" / "Org" / "results" / name)
    os.rename(root / "closed" / "Org", root / "closed" / "javascript:alert(1)\x1b[2K\rverdict: CLOSED")


KINDS = {f.__name__: f for f in (deep, wide, huge, cyclic_links, links_out, odd_encodings, binary_names,
                                 wrong_values, injection)}


# --- running the CLI under limits -------------------------------------------------------------------
def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (int(TIME_LIMIT) + 2, int(TIME_LIMIT) + 2))


def run_cli(*argv) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds) of `mlps ARGV...` in its own limited process."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mlps.cli", *map(str, argv)], capture_output=True,
                          timeout=TIME_LIMIT * 3, preexec_fn=_limits, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return (proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"),
            time.monotonic() - started)


class HostileTrees:
    """Builds the base campaign once; each call copies it, applies one kind, runs verify and report."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.base = build_campaign_tree(scratch / "base", runs=2)
        self.count = 0

    def __call__(self, kind: str, seed: int, full: bool = True) -> None:
        """`full`: also `verify --json -` and the default --out (the suite runs the two main commands)."""
        self.count += 1
        work = self.scratch / f"case{self.count}"
        root, outside = work / "tree", work / "outside"
        shutil.copytree(self.base, root, symlinks=True)
        outside.mkdir()
        (outside / "keep.txt").write_text("untouched\n")
        try:
            KINDS[kind](root, random.Random(seed), outside)  # noqa: S311 - seeded test data, not secrets
            before = sorted(p.name for p in outside.iterdir())
            commands = [("verify", root), ("report", root, "--out", work / "out")]
            if full:
                commands += [("verify", root, "--json", "-"), ("report", root)]
            for argv in commands:
                code, out, err, seconds = run_cli(*argv)
                what = f"{kind} seed {seed}: mlps {' '.join(map(str, argv[:1]))} exit {code} in {seconds:.1f} s"
                assert code in ALLOWED, f"{what}: {err.strip()[-400:]}"
                assert seconds <= TIME_LIMIT, what
                assert CANARY not in out + err, f"{what}: printed a file from outside the tree"
                assert "\x1b" not in out + err and "Traceback" not in err, f"{what}: {err[-400:]!r}"
            assert sorted(p.name for p in outside.iterdir()) == before, f"{kind}: wrote outside the tree"
            assert (outside / "keep.txt").read_text() == "untouched\n"
            if (work / "out").is_dir():
                written = "".join(p.read_text(errors="replace") for p in (work / "out").rglob("*")
                                  if p.is_file() and not p.is_symlink())
                assert CANARY not in written, f"{kind}: a file from outside the tree reached the report"
        finally:
            remove_tree(work)

    def close(self) -> None:
        remove_tree(self.scratch)
