"""module_utils/mlps_dataset.py on synthetic data folders (sparse files, so sizes cost no disk), the
sizes real DLIO 2.0.0 datagens wrote, and library/mlps_dataset_check.py through `ansible localhost`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlps_module_utils import mlps_dataset as ds
from tests.adhoc import run_module

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MiB = 1 << 20

# (format, record_length, num_samples_per_file, size of every file DLIO 2.0.0 wrote), stdev 0
MEASURED = [
    ("npz", 1048576, 1, 1049074),
    ("npy", 250000, 3, 750128),
    ("hdf5", 250000, 3, 752072),
    ("tfrecord", 250000, 3, 750177),
    ("jpeg", 250000, 3, 141096),
    ("png", 250000, 3, 250845),
]


def build(root: Path, paths: list[str], size: int) -> Path:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "valid").mkdir(exist_ok=True)  # DLIO always creates both
    return root


def check(root: Path, n: int = 16, **kw) -> dict:
    kw.setdefault("record_length", MiB)
    kw.setdefault("fmt", "npz")
    return ds.check_dataset(str(root), n, **kw)


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    return build(tmp_path / "data", ds.expected_paths(16, 0, "npz"), 1049074)


# ---------------------------------------------------------------------------------------------
# Names and sizes


def test_names_follow_dlio_2_0_0():
    assert ds.expected_paths(16, 0, "npz")[:2] == ["train/img_00_of_16.npz", "train/img_01_of_16.npz"]
    assert ds.expected_paths(3, 0, "npz", split="valid") == [f"valid/img_{i}_of_3.npz" for i in range(3)]
    sub = ds.expected_paths(25, 4, "npz")
    assert (sub[0], sub[3], sub[4], sub[24]) == ("train/0/img_00_of_25.npz", "train/3/img_03_of_25.npz",
                                                  "train/0/img_04_of_25.npz", "train/0/img_24_of_25.npz")
    assert ds.expected_paths(12, 10, "jpeg")[11] == "train/01/img_11_of_12.jpeg"
    assert ds.expected_paths(2, 1, "npz") == ["train/img_0_of_2.npz", "train/img_1_of_2.npz"]  # 1: no subfolders
    assert ds.file_name("x", 7, 1000, "tfrecord") == "x_0007_of_1000.tfrecord"


@pytest.mark.parametrize(("fmt", "record_length", "samples", "size"), MEASURED)
def test_measured_sizes_are_inside_and_half_of_them_outside(fmt, record_length, samples, size):
    low, high = ds.size_range(fmt, record_length, 0, samples)
    assert low <= size <= high
    assert not low <= size // 2 <= high
    assert high - low < 0.25 * size  # tight enough to mean something with stdev 0


def test_dimension_follows_dlio_int_sqrt_and_stdev_widens_by_seven_sigma():
    assert ds.dimension_range(1048576) == (1024, 1024)
    assert ds.dimension_range(114660.07) == (338, 338)  # resnet50's fractional record length
    low, high = ds.dimension_range(100000, 20000)  # side 316, sigma 31.6
    assert (low, high) == (94, 537)
    assert ds.dimension_range(146600628, 68341808)[0] == 1  # unet3d: sides down to 1 are possible
    # every size of a real datagen with record_length 100000 and stdev 20000 (2 samples per file)
    low, high = ds.size_range("npz", 100000, 20000, 2)
    assert all(low <= s <= high for s in (132066, 168716, 258842, 242514))


def test_no_size_model_means_no_match(tmp_path):
    root = build(tmp_path / "d", ds.expected_paths(4, 0, "csv"), 1000)
    result = check(root, 4, fmt="csv")
    assert result["matches"] is False and result["found_files"] == 4
    assert "no size model for format csv" in result["reason"] and result["expected_size_range"] is None


# ---------------------------------------------------------------------------------------------
# Decisions on synthetic folders


def test_complete_flat_dataset_matches(flat):
    result = check(flat)
    assert result["matches"] is True, result["reason"]
    assert result["reason"] == "found 16 of 16 files, sizes within expected range"
    assert (result["found_files"], result["expected_files"], result["total_bytes"]) == (16, 16, 16 * 1049074)
    assert result["sample_sizes"] == {"min": 1049074, "max": 1049074} and result["problems"] == []


def test_a_missing_file_is_named(flat):
    (flat / "train" / "img_07_of_16.npz").unlink()
    result = check(flat)
    assert result["matches"] is False and result["found_files"] == 15
    assert result["reason"] == "found 15 of 16 files; 1 of 16 train files missing (e.g. train/img_07_of_16.npz)"


def test_a_truncated_file_is_named(flat):
    os.truncate(flat / "train" / "img_03_of_16.npz", 524288)
    result = check(flat)
    assert result["matches"] is False and result["found_files"] == 16
    assert "1 train file outside the expected size range 1048840..1052680 bytes" in result["reason"]
    assert "train/img_03_of_16.npz: 524288 bytes" in result["reason"]
    assert result["sample_sizes"] == {"min": 524288, "max": 1049074}


def test_a_bigger_dataset_in_the_folder_does_not_match(tmp_path):
    root = build(tmp_path / "d", ds.expected_paths(32, 0, "npz"), 1049074)
    result = check(root, 16)
    assert result["matches"] is False and result["found_files"] == 0
    assert "32 unexpected .npz files in train/ that DLIO would also read" in result["reason"]


def test_an_extra_data_file_does_not_match_but_other_files_are_ignored(flat):
    (flat / "train" / "README.txt").write_text("notes")
    (flat / "train" / "img_00_of_16.npz.idx").write_text("")
    assert check(flat)["matches"] is True
    (flat / "train" / "img_16_of_16.npz").write_bytes(b"")
    (flat / "train" / "img_3_of_16.npz").write_bytes(b"")  # wrong padding: not DLIO's name
    result = check(flat)
    assert result["matches"] is False and result["found_files"] == 16
    assert "2 unexpected .npz files in train/" in result["reason"]


def test_a_subfolder_in_a_flat_layout_does_not_match(flat):
    (flat / "train" / "0").mkdir()
    result = check(flat)
    assert result["matches"] is False and "train/ holds subfolders (e.g. 0) but the plan has none" in result["reason"]


def test_subfolder_layout(tmp_path):
    root = build(tmp_path / "d", ds.expected_paths(25, 4, "npz"), 1049074)
    assert check(root, 25, num_subfolders_train=4)["matches"] is True
    flat_plan = check(root, 25)
    assert flat_plan["matches"] is False and flat_plan["found_files"] == 0
    five = check(root, 25, num_subfolders_train=5)
    assert five["matches"] is False and "train/ lacks 1 of its 5 subfolders (e.g. 4)" in five["reason"]
    # a file in the wrong subfolder is not the layout DLIO writes
    (root / "train" / "0" / "img_04_of_25.npz").rename(root / "train" / "1" / "img_04_of_25.npz")
    moved = check(root, 25, num_subfolders_train=4)
    assert moved["matches"] is False and moved["found_files"] == 24
    assert "train/0/img_04_of_25.npz" in moved["reason"] and "train/1/img_04_of_25.npz" in moved["reason"]


def test_stray_entry_beside_subfolders_does_not_match(tmp_path):
    root = build(tmp_path / "d", ds.expected_paths(8, 2, "npz"), 1049074)
    (root / "train" / "notes.txt").write_text("x")  # DLIO asserts train/ holds exactly the subfolders
    result = check(root, 8, num_subfolders_train=2)
    assert result["matches"] is False and "train/ holds 1 entry besides its 2 subfolders (e.g. notes.txt)" \
        in result["reason"]


def test_eval_files_are_counted_only_when_planned(tmp_path):
    root = build(tmp_path / "d", ds.expected_paths(16, 0, "npz") + ds.expected_paths(3, 0, "npz", "valid"), 1049074)
    both = check(root, num_files_eval=3)
    assert both["matches"] is True and (both["found_files"], both["expected_files"]) == (19, 19)
    assert check(root)["expected_files"] == 16 and check(root)["matches"] is True
    (root / "valid" / "img_1_of_3.npz").unlink()
    result = check(root, num_files_eval=3)
    assert result["matches"] is False and "1 of 3 valid files missing (e.g. valid/img_1_of_3.npz)" in result["reason"]


def test_missing_folders(tmp_path):
    result = check(tmp_path / "nope")
    assert result["matches"] is False and result["reason"] == f"data folder {tmp_path / 'nope'} does not exist"
    (tmp_path / "file").write_text("")
    assert check(tmp_path / "file")["reason"] == f"data folder {tmp_path / 'file'} is not a directory"
    (tmp_path / "empty").mkdir()
    result = check(tmp_path / "empty")
    assert result["matches"] is False and f"{tmp_path / 'empty' / 'train'} does not exist" in result["reason"]
    assert result["reason"].startswith("found 0 of 16 files; ")


def test_unreadable_split_is_a_mismatch_not_a_crash(flat):
    if os.geteuid() == 0:  # root reads anything; make train/ a file instead
        for p in (flat / "train").iterdir():
            p.unlink()
        (flat / "train").rmdir()
        (flat / "train").write_text("")
        assert f"{flat / 'train'} is not a directory" in check(flat)["reason"]
    else:
        (flat / "train").chmod(0)
        try:
            assert "cannot list" in check(flat)["reason"]
        finally:
            (flat / "train").chmod(0o755)


@pytest.mark.parametrize(("kw", "needle"), [
    ({"n": 0}, "num_files_train 0: expected a whole number of at least 1"),
    ({"record_length": 0}, "record_length 0: expected bytes, at least 1"),
    ({"record_length_stdev": -1}, "record_length_stdev -1"),
    ({"fmt": "parquet"}, "format 'parquet': expected one of DLIO 2.0.0's tfrecord, hdf5"),
    ({"num_files_eval": -2}, "num_files_eval -2"),
    ({"file_prefix": "a/b"}, "file_prefix 'a/b': expected a plain name"),
])
def test_bad_plan_values_are_named(flat, kw, needle):
    n = kw.pop("n", 16)
    with pytest.raises(ds.DatasetInputError, match=needle.replace("(", r"\(")):
        check(flat, n, **kw)


# ---------------------------------------------------------------------------------------------
# The Ansible module


def _env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def ansible(args: dict, *extra: str) -> tuple[str, dict]:
    return run_module("mlps_dataset_check", args, *extra)[:2]

def test_module_documentation_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_dataset_check"],
                          capture_output=True, text=True, cwd=ROOT, env=_env(), check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "num_files_train" in proc.stdout and "expected_size_range" in proc.stdout and "EXAMPLES" in proc.stdout


def test_module_answers_in_check_mode_and_fails_cleanly_on_bad_input(flat):
    plan = {"data_folder": str(flat), "num_files_train": 16, "record_length": MiB, "format": "npz"}
    status, result = ansible(plan, "--check")
    assert status == "SUCCESS" and result["matches"] is True and result["changed"] is False
    assert result["reason"] == "found 16 of 16 files, sizes within expected range"
    status, result = ansible({**plan, "num_files_train": 15})
    assert status == "SUCCESS" and result["matches"] is False and result["expected_files"] == 15
    status, result = ansible({**plan, "num_files_train": 0})
    assert status == "FAILED!"
    assert result["msg"] == "mlps_dataset_check: num_files_train 0: expected a whole number of at least 1"
