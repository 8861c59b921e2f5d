"""Our DLIO workload configs run on the real DLIO 2.0.0: tiny datagen + 2-epoch training, 2 ranks
under mpirun, in the client venv that playbooks/setup.yml installs (fixture client_venv)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from mlps.rulebook.workloads import DLIO_CONFIG_DIR

pytestmark = pytest.mark.integration

TIMEOUT = 300

# DLIO 2.0.0 progress lines (on stderr and in <output>/dlio.log), which the campaign parses:
#   [INFO] <iso time> Max steps per epoch: 4 = 1 * 16 / 2 / 2 (samples per file * num files / ...)
#   [INFO] <iso time> Starting epoch 1: 4 steps expected [...]
#   [INFO] <iso time> Rank 0 step 3 processed 2 samples in 0.0115 s [...]
#   [INFO] <iso time> Ending epoch 1 - 4 steps completed in 0.30 s [...]
#   [INFO] [INFO] <iso time> Generating NPZ Data: [==>---] 43.8% 7 of 16  [...]   (datagen)
STEP = re.compile(r"\[INFO\] (\S+) Rank (\d+) step (\d+) processed (\d+) samples in ([\d.]+) s")
EPOCH_START = re.compile(r"\[INFO\] (\S+) Starting epoch (\d+): (\d+) steps expected")
EPOCH_END = re.compile(r"\[INFO\] (\S+) Ending epoch (\d+) - (\d+) steps completed in ([\d.]+) s")
GENERATED = re.compile(r"Generating (\w+) Data: \[[=>-]*\] ([\d.]+)% (\d+) of (\d+)")


@pytest.fixture(scope="module")
def venv_bin(client_venv: Path) -> Path:
    bin_dir = client_venv / "bin"
    for tool in ("mpirun", "dlio_benchmark"):
        assert (bin_dir / tool).is_file(), f"{bin_dir / tool} not found after setup.yml"
    return bin_dir


def client_env(venv_bin: Path) -> dict:
    # the venv's bin first, so mpirun finds its own prted and ranks find dlio_benchmark's python
    return {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def dlio_argv(venv_bin: Path, ranks: int, workload: str, out: Path, overrides: list[str],
              config_dir: Path = DLIO_CONFIG_DIR) -> list[str]:
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    return [str(venv_bin / "mpirun"), *root, "--oversubscribe", "-np", str(ranks),
            str(venv_bin / "dlio_benchmark"), "--config-path", str(config_dir), f"workload={workload}",
            *overrides, f"++workload.output.folder={out}", f"hydra.run.dir={out}"]


def run(argv: list[str], venv_bin: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=client_env(venv_bin),
                          timeout=TIMEOUT, check=False)
    elapsed = time.monotonic() - start
    print(f"{elapsed:6.1f} s  rc={done.returncode}  {' '.join(argv)}")
    assert done.returncode == 0, f"rc={done.returncode}\nstderr tail:\n{done.stderr[-3000:]}"
    return done, elapsed


def loaded_keys(venv_bin: Path) -> str:
    sources = list(venv_bin.parent.glob("lib/python*/site-packages/dlio_benchmark/utils/config.py"))
    assert sources, f"no dlio_benchmark/utils/config.py under {venv_bin.parent}"
    text = sources[0].read_text()
    start = text.index("def LoadConfig(")
    end = text.find("\ndef ", start + 1)
    return text[start:end if end > 0 else None]


def flatten(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        keys += flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys


def test_every_config_key_is_read_by_the_installed_dlio(venv_bin):
    source = loaded_keys(venv_bin)
    for path in sorted((DLIO_CONFIG_DIR / "workload").glob("*.yaml")):
        for dotted in flatten(yaml.safe_load(path.read_text())):
            leaf = dotted.rsplit(".", 1)[-1]
            assert f"'{leaf}' in" in source, f"{path.name}: DLIO's LoadConfig never reads {dotted}"


def test_config_path_makes_our_workloads_win_over_dlios_own(venv_bin, tmp_path):
    mine = tmp_path / "dlio"
    shutil.copytree(DLIO_CONFIG_DIR, mine)
    changed = mine / "workload" / "unet3d_h100.yaml"       # DLIO ships a file of the same name
    changed.write_text(changed.read_text().replace("computation_time: 0.323", "computation_time: 9.999"))
    argv = [str(venv_bin / "dlio_benchmark"), "--config-path", str(mine), "workload=unet3d_h100", "--cfg", "job"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=client_env(venv_bin),
                          timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert yaml.safe_load(done.stdout)["workload"]["train"]["computation_time"] == 9.999
    # and a workload only DLIO ships is not found: DLIO's packaged configs are out of the search path
    argv[3] = "workload=bert_v100"
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=client_env(venv_bin),
                          timeout=TIMEOUT, check=False)
    assert done.returncode != 0
    assert "Could not find 'workload/bert_v100'" in done.stdout + done.stderr


def test_tiny_unet3d_datagen_and_training_with_two_ranks(venv_bin, tmp_path):
    data, gen_out, run_out = tmp_path / "data", tmp_path / "datagen", tmp_path / "run"
    shrink = [f"++workload.dataset.data_folder={data}", "++workload.dataset.num_files_train=16",
              "++workload.dataset.record_length=1048576", "++workload.dataset.record_length_stdev=0",
              "++workload.dataset.record_length_resize=1048576",
              f"++workload.checkpoint.checkpoint_folder={tmp_path / 'checkpoints'}"]
    gen, gen_time = run(dlio_argv(venv_bin, 2, "unet3d_datagen", gen_out, shrink), venv_bin, tmp_path)
    files = sorted(p.name for p in (data / "train").iterdir())
    assert files == [f"img_{i:02d}_of_16.npz" for i in range(16)]
    assert {"dlio.log", ".hydra"} <= {p.name for p in gen_out.iterdir()}
    assert GENERATED.search(gen.stderr), "no datagen progress line on stderr"

    train = [*shrink, "++workload.reader.batch_size=2", "++workload.reader.read_threads=1",
             "++workload.train.epochs=2", "++workload.train.computation_time=0.01"]
    done, run_time = run(dlio_argv(venv_bin, 2, "unet3d_h100", run_out, train), venv_bin, tmp_path)
    print(f"datagen {gen_time:.1f} s, training {run_time:.1f} s")

    assert {"summary.json", "per_epoch_stats.json", "0_output.json", "1_output.json", "dlio.log"} <= \
        {p.name for p in run_out.iterdir()}
    assert sorted(p.name for p in (run_out / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    summary = json.loads((run_out / "summary.json").read_text())
    assert (summary["num_accelerators"], summary["num_hosts"], summary["num_files_train"], summary["epochs"]) == \
        (2, 1, 16, 2)
    assert len(summary["metric"]["train_au_percentage"]) == 2
    assert set(json.loads((run_out / "per_epoch_stats.json").read_text())) == {"1", "2"}

    config = yaml.safe_load((run_out / ".hydra" / "config.yaml").read_text())["workload"]
    assert (config["model"], config["train"]["computation_time"], config["metric"]["au"]) == ("unet3d", 0.01, 0.9)
    assert yaml.safe_load((run_out / ".hydra" / "overrides.yaml").read_text())[0] == "workload=unet3d_h100"
    sources = yaml.safe_load((run_out / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["config_sources"]
    assert str(DLIO_CONFIG_DIR) in [s["path"] for s in sources]
    assert "dlio_benchmark.configs" not in [s["path"] for s in sources]

    # progress: 16 files / batch 2 / 2 ranks = 4 steps per rank per epoch, on stderr and in dlio.log
    for text in (done.stderr, (run_out / "dlio.log").read_text()):
        steps = [(int(m[1]), int(m[2])) for m in STEP.findall(text)]
        assert sorted(steps) == sorted((rank, step) for rank in (0, 1) for step in range(1, 5) for _ in (1, 2))
        assert [(int(e), int(n)) for _, e, n in EPOCH_START.findall(text)] == [(1, 4), (2, 4)]
        assert [int(m[1]) for m in EPOCH_END.findall(text)] == [1, 2]


def test_tiny_retinanet_jpeg_runs_on_dlio_2_0_0(venv_bin, tmp_path):
    data = tmp_path / "data"
    shrink = [f"++workload.dataset.data_folder={data}", "++workload.dataset.num_files_train=16",
              f"++workload.checkpoint.checkpoint_folder={tmp_path / 'checkpoints'}"]
    run(dlio_argv(venv_bin, 2, "retinanet_datagen", tmp_path / "datagen", shrink), venv_bin, tmp_path)
    assert len(list((data / "train").glob("*.jpeg"))) == 16
    train = [*shrink, "++workload.reader.batch_size=4", "++workload.reader.read_threads=1",
             "++workload.train.epochs=1", "++workload.train.computation_time=0.01"]
    run(dlio_argv(venv_bin, 2, "retinanet_b200", tmp_path / "run", train), venv_bin, tmp_path)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["num_accelerators"], summary["num_files_train"]) == (2, 16)
    assert len(summary["metric"]["train_throughput_samples_per_second"]) == 1
