"""Does a data folder already hold the dataset DLIO 2.0.0 would generate for a plan? (datagen skip)

DLIO 2.0.0's on-disk layout, read from its generator and confirmed by running tiny datagens:
- train files go to `<data_folder>/train/`, eval files to `<data_folder>/valid/` (both folders are
  always created; eval files only when num_files_eval > 0);
- file i of n is named `<prefix>_<i>_of_<n>.<format>`, i zero-padded to len(str(n)) digits
  (`img_03_of_16.npz`, `img_0_of_3.npz`); the default prefix is `img`;
- with num_subfolders s > 1, file i goes to subfolder `i % s`, named zero-padded to len(str(s))
  digits (`train/0/img_00_of_25.npz`); s of 0 or 1 means no subfolders;
- DLIO reads a flat folder as every entry ending in `.<format>` (sorted), and a subfolder layout
  as `*/*.<format>` after asserting that the folder holds exactly s entries.

File sizes: DLIO draws a `dimension` of int(sqrt(record_length)) and, with a stdev, each file's two
dimensions from a normal distribution of stdev `record_length_stdev / 2 / sqrt(record_length)`
(each at least 1). Array formats store num_samples_per_file x d1 x d2 bytes, image formats one
d1 x d2 image per file. SIZE_MODELS holds each format's container overhead, measured with DLIO
2.0.0 (numpy 2, h5py 3.14, Pillow 13, TF 2.21, compression none, which every template uses):
npz +498 B, npy +128 B, hdf5 +2072 B (3 samples), tfrecord +59 B per sample, png 1.001-1.03 B per
pixel, jpeg (random noise, quality 75) 0.555-0.67 B per pixel plus a header of about 340 B. With
a stdev the dimensions are accepted within SIGMAS standard deviations, so the check then proves
plausibility, not exact sizes. Only directory entries are listed and stat'ed; no file is opened.

Pure stdlib, Python 3.8 syntax: runs inside Ansible modules on the clients.
"""

from __future__ import annotations

import math
import os
from typing import List, Optional, Tuple

# DLIO 2.0.0's FormatType values.
DLIO_FORMATS = ("tfrecord", "hdf5", "csv", "npz", "npy", "hdf5_opt", "jpeg", "png", "indexed_binary",
                "mmap_indexed_binary", "synthetic")

# A normal draw lands beyond 7 sigma with probability 2.6e-12: with a million files (two draws
# each) a genuine dataset is wrongly rejected about once in 200 000 checks.
SIGMAS = 7

# format -> (per_image, mult_lo, add_lo, mult_hi, add_hi, add_per_sample_lo, add_per_sample_hi).
# payload P = d1*d2 (per_image) or num_samples*d1*d2; size in
#   [mult_lo*P + add_lo + n*add_per_sample_lo, mult_hi*P + add_hi + n*add_per_sample_hi].
# The margins sit well outside the measured overheads in the module docstring.
SIZE_MODELS = {
    # zip of x.npy and y.npy (two >=128 B headers plus zip records); labels are 8 B int64 each
    "npz": (False, 1.0, 256, 1.0, 4096, 8, 8),
    "npy": (False, 1.0, 128, 1.0, 4096, 0, 0),
    # HDF5 superblock, object headers and the labels dataset; chunked layouts add B-tree nodes
    "hdf5": (False, 1.0, 0, 1.0, 65536, 8, 8),
    # TFRecord framing (16 B) plus the Example protobuf around each record (43 B measured)
    "tfrecord": (False, 1.0, 0, 1.0, 0, 32, 128),
    # signature and IHDR/IDAT/IEND chunks (57 B), one filter byte per row, deflate of noise
    "png": (True, 1.0, 57, 1.02, 4096, 0, 0),
    # noise compresses to about 0.555 B per pixel at quality 75; small images carry the header
    "jpeg": (True, 0.5, 256, 0.62, 2048, 0, 0),
}


class DatasetInputError(ValueError):
    """A plan value that cannot describe a DLIO dataset."""


def dimension_range(record_length: float, record_length_stdev: float = 0) -> Tuple[int, int]:
    """Smallest and largest image dimension DLIO can draw for these record settings."""
    dimension = int(math.sqrt(record_length))
    if record_length_stdev <= 0:
        return dimension, dimension
    sigma = record_length_stdev / 2.0 / math.sqrt(record_length)
    return max(math.floor(dimension - SIGMAS * sigma), 1), max(int(dimension + SIGMAS * sigma), 1)


def size_range(fmt: str, record_length: float, record_length_stdev: float = 0,
               num_samples_per_file: int = 1) -> Optional[Tuple[int, int]]:
    """Plausible file size range in bytes, or None when there is no size model for the format."""
    model = SIZE_MODELS.get(fmt)
    if model is None:
        return None
    per_image, mult_lo, add_lo, mult_hi, add_hi, per_sample_lo, per_sample_hi = model
    dmin, dmax = dimension_range(record_length, record_length_stdev)
    samples = 1 if per_image else num_samples_per_file
    low = math.floor(mult_lo * samples * dmin * dmin) + add_lo + num_samples_per_file * per_sample_lo
    high = math.ceil(mult_hi * samples * dmax * dmax) + add_hi + num_samples_per_file * per_sample_hi
    return low, high


def file_name(prefix: str, index: int, count: int, fmt: str) -> str:
    """DLIO's name for file `index` of `count`."""
    return "{}_{}_of_{}.{}".format(prefix, str(index).rjust(len(str(count)), "0"), count, fmt)


def subfolder_name(index: int, num_subfolders: int) -> str:
    """The subfolder DLIO puts file `index` in (only when num_subfolders > 1)."""
    return str(index % num_subfolders).rjust(len(str(num_subfolders)), "0")


def expected_paths(num_files: int, num_subfolders: int, fmt: str, split: str = "train",
                   prefix: str = "img") -> List[str]:
    """Relative paths DLIO writes for one split; for tests and small listings, not the scan."""
    names = [file_name(prefix, i, num_files, fmt) for i in range(num_files)]
    if num_subfolders > 1:
        return ["{}/{}/{}".format(split, subfolder_name(i, num_subfolders), n) for i, n in enumerate(names)]
    return ["{}/{}".format(split, n) for n in names]


def _index_of(name: str, prefix: str, count: int, fmt: str) -> Optional[int]:
    """Index of a DLIO file name of this dataset, or None (wrong prefix, count, format or padding)."""
    head, tail = prefix + "_", "_of_{}.{}".format(count, fmt)
    middle = name[len(head):len(name) - len(tail)]
    if not (name.startswith(head) and name.endswith(tail)) or len(name) <= len(head) + len(tail):
        return None
    if len(middle) != len(str(count)) or not middle.isdigit():
        return None
    index = int(middle)
    return index if index < count else None


class SplitScan:
    """What one scan of `train/` or `valid/` found. Memory is one byte per expected file."""

    def __init__(self, split: str, count: int, num_subfolders: int, fmt: str, prefix: str,
                 size_limits: Optional[Tuple[int, int]]):
        self.split = split
        self.count = count
        self.num_subfolders = num_subfolders
        self.fmt = fmt
        self.prefix = prefix
        self.size_limits = size_limits
        self.seen = bytearray(count)
        self.found = 0
        self.total_bytes = 0
        self.min_size = None  # type: Optional[int]
        self.max_size = None  # type: Optional[int]
        self.n_bad_sizes = 0
        self.first_bad_size = None  # type: Optional[Tuple[str, int]]
        self.n_unexpected = 0
        self.first_unexpected = None  # type: Optional[str]
        self.problems = []  # type: List[str]

    def relative_path(self, index: int) -> str:
        name = file_name(self.prefix, index, self.count, self.fmt)
        if self.num_subfolders > 1:
            return "{}/{}/{}".format(self.split, subfolder_name(index, self.num_subfolders), name)
        return "{}/{}".format(self.split, name)

    def add_file(self, index: int, size: int) -> None:
        if self.seen[index]:
            return
        self.seen[index] = 1
        self.found += 1
        self.total_bytes += size
        self.min_size = size if self.min_size is None else min(self.min_size, size)
        self.max_size = size if self.max_size is None else max(self.max_size, size)
        if self.size_limits and not self.size_limits[0] <= size <= self.size_limits[1]:
            self.n_bad_sizes += 1
            if self.first_bad_size is None:
                self.first_bad_size = (self.relative_path(index), size)

    def add_unexpected(self, relative: str) -> None:
        self.n_unexpected += 1
        if self.first_unexpected is None:
            self.first_unexpected = relative

    def missing(self, limit: int = 3) -> List[str]:
        """The first few expected files that were not found."""
        out = []
        index = self.seen.find(0)
        while index >= 0 and len(out) < limit:
            out.append(self.relative_path(index))
            index = self.seen.find(0, index + 1)
        return out

    def describe(self) -> List[str]:
        """Why this split does not match, one short clause per finding; empty when it matches."""
        out = list(self.problems)
        lacking = self.count - self.found
        if lacking:
            out.append("{} of {} {} files missing (e.g. {})".format(
                lacking, self.count, self.split, ", ".join(self.missing())))
        if self.n_unexpected:
            out.append("{} unexpected .{} file{} in {}/ that DLIO would also read (e.g. {})".format(
                self.n_unexpected, self.fmt, "" if self.n_unexpected == 1 else "s", self.split,
                self.first_unexpected))
        if self.n_bad_sizes and self.size_limits and self.first_bad_size:
            out.append("{} {} file{} outside the expected size range {}..{} bytes (e.g. {}: {} bytes)".format(
                self.n_bad_sizes, self.split, "" if self.n_bad_sizes == 1 else "s", self.size_limits[0],
                self.size_limits[1], self.first_bad_size[0], self.first_bad_size[1]))
        return out


def _listing(path: str) -> Tuple[List[str], List[str]]:
    """File and subfolder names of a small directory (the top of a subfolder layout)."""
    files, dirs = [], []
    with os.scandir(path) as entries:
        for entry in entries:
            (dirs if entry.is_dir() else files).append(entry.name)
    return files, dirs


def _scan_files(scan: SplitScan, folder: str, relative: str, subfolder: Optional[str]) -> List[str]:
    """Take in the data files of one directory as os.scandir streams them (no contents read, nothing
    kept per file but one byte); returns the names of its subfolders."""
    suffix = "." + scan.fmt
    dirs = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                dirs.append(entry.name)
                continue
            name = entry.name
            index = _index_of(name, scan.prefix, scan.count, scan.fmt)
            if index is not None and subfolder is not None and \
                    subfolder_name(index, scan.num_subfolders) != subfolder:
                index = None  # right name, wrong subfolder: not the layout DLIO writes
            if index is None:
                if name.endswith(suffix):  # DLIO would read it as part of the dataset
                    scan.add_unexpected(relative + name)
                continue
            try:
                size = entry.stat().st_size
            except OSError as exc:
                scan.problems.append("cannot stat {}{}: {}".format(relative, name, exc.strerror or exc))
                continue
            scan.add_file(index, size)
    return dirs


def scan_split(data_folder: str, split: str, count: int, num_subfolders: int, fmt: str,
               size_limits: Optional[Tuple[int, int]], prefix: str = "img") -> SplitScan:
    """Walk one split folder the way DLIO lays it out; never raises for what is on disk."""
    scan = SplitScan(split, count, num_subfolders, fmt, prefix, size_limits)
    top = os.path.join(data_folder, split)
    try:
        if num_subfolders > 1:
            files, dirs = _listing(top)
            expected = [subfolder_name(i, num_subfolders) for i in range(num_subfolders)]
            extra = sorted(set(dirs) - set(expected)) + sorted(files)
            missing = sorted(set(expected) - set(dirs))
            if extra:  # DLIO asserts the folder holds exactly the subfolders
                scan.problems.append("{}/ holds {} entr{} besides its {} subfolders (e.g. {})".format(
                    split, len(extra), "y" if len(extra) == 1 else "ies", num_subfolders, extra[0]))
            if missing:
                scan.problems.append("{}/ lacks {} of its {} subfolders (e.g. {})".format(
                    split, len(missing), num_subfolders, missing[0]))
            for name in sorted(set(dirs) & set(expected)):
                _scan_files(scan, os.path.join(top, name), "{}/{}/".format(split, name), name)
        else:
            dirs = _scan_files(scan, top, split + "/", None)
            if dirs:  # DLIO would take the folder for a subfolder layout
                scan.problems.append("{}/ holds subfolders (e.g. {}) but the plan has none".format(
                    split, sorted(dirs)[0]))
    except FileNotFoundError:
        scan.problems.append("{} does not exist".format(top))
    except NotADirectoryError:
        scan.problems.append("{} is not a directory".format(top))
    except OSError as exc:
        scan.problems.append("cannot list {}: {}".format(top, exc.strerror or exc))
    return scan


def _validate(num_files_train: int, num_subfolders_train: int, record_length: float, record_length_stdev: float,
              fmt: str, num_files_eval: int, num_subfolders_eval: int, num_samples_per_file: int,
              file_prefix: str) -> None:
    checks = [
        (num_files_train >= 1, "num_files_train {!r}: expected a whole number of at least 1".format(num_files_train)),
        (num_files_eval >= 0, "num_files_eval {!r}: expected 0 or more".format(num_files_eval)),
        (num_subfolders_train >= 0, "num_subfolders_train {!r}: expected 0 or more".format(num_subfolders_train)),
        (num_subfolders_eval >= 0, "num_subfolders_eval {!r}: expected 0 or more".format(num_subfolders_eval)),
        (record_length >= 1, "record_length {!r}: expected bytes, at least 1".format(record_length)),
        (record_length_stdev >= 0, "record_length_stdev {!r}: expected 0 or more".format(record_length_stdev)),
        (num_samples_per_file >= 1, "num_samples_per_file {!r}: expected at least 1".format(num_samples_per_file)),
        (fmt in DLIO_FORMATS, "format {!r}: expected one of DLIO 2.0.0's {}".format(fmt, ", ".join(DLIO_FORMATS))),
        (bool(file_prefix) and "/" not in file_prefix, "file_prefix {!r}: expected a plain name".format(file_prefix)),
    ]
    for ok, message in checks:
        if not ok:
            raise DatasetInputError(message)


def check_dataset(data_folder: str, num_files_train: int, record_length: float, fmt: str,
                  num_subfolders_train: int = 0, record_length_stdev: float = 0, num_files_eval: int = 0,
                  num_subfolders_eval: int = 0, num_samples_per_file: int = 1, file_prefix: str = "img") -> dict:
    """The datagen-skip decision for one data folder; raises DatasetInputError only for a bad plan."""
    _validate(num_files_train, num_subfolders_train, record_length, record_length_stdev, fmt, num_files_eval,
              num_subfolders_eval, num_samples_per_file, file_prefix)
    limits = size_range(fmt, record_length, record_length_stdev, num_samples_per_file)
    expected = num_files_train + num_files_eval
    result = {"matches": False, "found_files": 0, "expected_files": expected, "total_bytes": 0,
              "sample_sizes": {"min": None, "max": None}, "data_folder": data_folder,
              "expected_size_range": {"min": limits[0], "max": limits[1]} if limits else None,
              "problems": []}
    if not os.path.isdir(data_folder):
        what = "is not a directory" if os.path.exists(data_folder) else "does not exist"
        result["reason"] = "data folder {} {}".format(data_folder, what)
        result["problems"] = [result["reason"]]
        return result

    scans = [scan_split(data_folder, "train", num_files_train, num_subfolders_train, fmt, limits, file_prefix)]
    if num_files_eval > 0:
        scans.append(scan_split(data_folder, "valid", num_files_eval, num_subfolders_eval, fmt, limits,
                                file_prefix))
    sizes = [s for scan in scans for s in (scan.min_size, scan.max_size) if s is not None]
    result.update(found_files=sum(s.found for s in scans), total_bytes=sum(s.total_bytes for s in scans),
                  sample_sizes={"min": min(sizes) if sizes else None, "max": max(sizes) if sizes else None})
    problems = [p for scan in scans for p in scan.describe()]
    if limits is None:
        problems.append("no size model for format {} (known: {}), so the sizes cannot be confirmed".format(
            fmt, ", ".join(sorted(SIZE_MODELS))))
    result["problems"] = problems
    result["matches"] = not problems
    head = "found {} of {} files".format(result["found_files"], expected)
    result["reason"] = head + (", sizes within expected range" if not problems else "; " + "; ".join(problems))
    return result
