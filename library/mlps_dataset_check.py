#!/usr/bin/python
"""Ansible module: does a data folder already hold the DLIO dataset a plan asks for? (datagen skip)"""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_dataset_check
short_description: Decide whether a data folder already holds the DLIO 2.0.0 dataset of a plan
description:
  - Lists O(data_folder) the way DLIO 2.0.0 lays out a generated dataset and says whether it
    matches the plan, so a campaign can skip datagen. Train files are
    C(<data_folder>/train/<prefix>_<i>_of_<n>.<format>) with C(i) zero-padded to the digits of
    C(n); with O(num_subfolders_train) above 1, file C(i) sits in subfolder C(i % s) (zero-padded
    to the digits of C(s)). Eval files follow the same scheme under C(valid/).
  - A match needs every expected file under its expected name and subfolder, no other
    C(.<format>) file that DLIO would also read, no stray entry where DLIO expects only
    subfolders, and every size plausible for O(record_length) (see notes).
  - Only directory entries are listed and stat'ed (os.scandir); no file is opened, so it stays
    fast on datasets of millions of files. It never changes anything.
version_added: "0.1.0"
author: mlps developers
options:
  data_folder:
    description: The dataset folder DLIO was (or will be) given as C(dataset.data_folder).
    type: path
    required: true
  num_files_train:
    description: Planned number of training files.
    type: int
    required: true
  num_subfolders_train:
    description: Planned training subfolders; 0 or 1 means files sit directly in C(train/).
    type: int
    default: 0
  record_length:
    description:
      - Planned C(dataset.record_length) in bytes. A float is accepted because some templates
        give one (resnet50 114660.07); DLIO uses C(int(sqrt(record_length))) as the image side.
    type: float
    required: true
  record_length_stdev:
    description: Planned C(dataset.record_length_stdev) in bytes.
    type: float
    default: 0
  format:
    description: DLIO C(dataset.format); also the file extension.
    type: str
    required: true
    choices: [tfrecord, hdf5, csv, npz, npy, hdf5_opt, jpeg, png, indexed_binary, mmap_indexed_binary, synthetic]
  num_files_eval:
    description: Planned evaluation files under C(valid/); 0 means C(valid/) is not checked.
    type: int
    default: 0
  num_subfolders_eval:
    description: Planned evaluation subfolders.
    type: int
    default: 0
  num_samples_per_file:
    description: Planned C(dataset.num_samples_per_file); array formats hold this many records per file.
    type: int
    default: 1
  file_prefix:
    description: Planned C(dataset.file_prefix).
    type: str
    default: img
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same answer.
notes:
  - "Size tolerance, from tiny DLIO 2.0.0 datagens (numpy 2, h5py 3.14, Pillow 13, TF 2.21,
    compression none): payload P is num_samples_per_file x side x side bytes (one side x side
    image for jpeg and png). Accepted sizes are npz P+256+8n .. P+4096+8n (measured P+498),
    npy P+128 .. P+4096 (measured P+128), hdf5 P+8n .. P+65536+8n (measured P+2072 at n=3),
    tfrecord P+32n .. P+128n (measured P+59n), png P+57 .. 1.02P+4096 (measured 1.001-1.03 P),
    jpeg 0.5P+256 .. 0.62P+2048 (measured 0.555-0.67 P plus about 340 B), n being
    num_samples_per_file."
  - With O(record_length_stdev) above 0 each side may lie 7 standard deviations from the mean, so
    the size check then proves plausibility only, not exact sizes.
  - Formats without a size model (csv, hdf5_opt, indexed_binary, mmap_indexed_binary, synthetic)
    never match, so datagen is never skipped for them.
  - The logic lives in module_utils/mlps_dataset.py.
"""

EXAMPLES = r"""
- name: Is the planned unet3d dataset already there?
  mlps_dataset_check:
    data_folder: /data/unet3d
    num_files_train: 3500
    record_length: 146600628
    record_length_stdev: 68341808
    format: npz
  register: mlps_dataset

- name: Say datagen is skipped
  ansible.builtin.debug:
    msg: "datagen skipped: {{ mlps_dataset.reason }}"
  when: mlps_dataset.matches
"""

RETURN = r"""
matches:
  description: True when the folder holds exactly the planned dataset with plausible sizes.
  returned: always
  type: bool
  sample: true
found_files:
  description: Expected files found under their expected names (train plus eval).
  returned: always
  type: int
  sample: 16
expected_files:
  description: Files the plan expects (num_files_train plus num_files_eval).
  returned: always
  type: int
  sample: 16
total_bytes:
  description: Sum of the sizes of the expected files found.
  returned: always
  type: int
  sample: 16785184
sample_sizes:
  description: Smallest and largest size among the expected files found; nulls when none was found.
  returned: always
  type: dict
  sample: {"min": 1049074, "max": 1049074}
expected_size_range:
  description: Accepted size range per file in bytes; null for a format without a size model.
  returned: always
  type: dict
  sample: {"min": 1048840, "max": 1052680}
reason:
  description: One line saying what was found and, when it does not match, why.
  returned: always
  type: str
  sample: found 16 of 16 files, sizes within expected range
problems:
  description: Each reason for a mismatch on its own; empty when it matches.
  returned: always
  type: list
  elements: str
  sample: ["6 of 16 train files missing (e.g. train/img_10_of_16.npz)"]
data_folder:
  description: The folder checked.
  returned: always
  type: str
  sample: /data/unet3d
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_dataset import DLIO_FORMATS, DatasetInputError, check_dataset

ARGUMENT_SPEC = {
    "data_folder": {"type": "path", "required": True},
    "num_files_train": {"type": "int", "required": True},
    "num_subfolders_train": {"type": "int", "default": 0},
    "record_length": {"type": "float", "required": True},
    "record_length_stdev": {"type": "float", "default": 0},
    "format": {"type": "str", "required": True, "choices": list(DLIO_FORMATS)},
    "num_files_eval": {"type": "int", "default": 0},
    "num_subfolders_eval": {"type": "int", "default": 0},
    "num_samples_per_file": {"type": "int", "default": 1},
    "file_prefix": {"type": "str", "default": "img"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        result = check_dataset(
            p["data_folder"], p["num_files_train"], p["record_length"], p["format"],
            num_subfolders_train=p["num_subfolders_train"], record_length_stdev=p["record_length_stdev"],
            num_files_eval=p["num_files_eval"], num_subfolders_eval=p["num_subfolders_eval"],
            num_samples_per_file=p["num_samples_per_file"], file_prefix=p["file_prefix"])
    except DatasetInputError as exc:
        module.fail_json(msg="mlps_dataset_check: {}".format(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
