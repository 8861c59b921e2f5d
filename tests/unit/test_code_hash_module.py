"""library/mlps_code_hash.py for real (ansible localhost -m): an installed package's folder found as
an interpreter sees it and hashed with md5-tree-v2, the hash the verifier recomputes code images with."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import yaml

from mlps.rulebook import code_image
from tests import adhoc


def test_an_installed_package_is_hashed_as_the_verifier_would():
    status, result, _ = adhoc.run_module("mlps_code_hash", {"python": sys.executable, "package": "yaml"})
    assert status == "SUCCESS" and result["found"] is True
    assert result["path"] == str(Path(yaml.__file__).parent)
    assert result["code_image"] == f"md5-tree-v2:{code_image.tree_hash(Path(yaml.__file__).parent)}"
    assert result["changed"] is False


def test_a_missing_package_or_folder_is_said_not_failed(tmp_path):
    status, result, _ = adhoc.run_module("mlps_code_hash", {"python": sys.executable, "package": "no_such_pkg_x"})
    assert status == "SUCCESS" and result["found"] is False and "no_such_pkg_x is not installed" in result["reason"]
    status, result, _ = adhoc.run_module("mlps_code_hash", {"path": str(tmp_path / "gone")})
    assert result["found"] is False and result["reason"].endswith("gone is not a folder or a file")
    # a venv that is not there (yet): said, not failed - the capsule records the code as unknown
    status, result, _ = adhoc.run_module("mlps_code_hash", {"python": str(tmp_path / "no-venv/bin/python"),
                                                            "package": "dlio_benchmark"})
    assert status == "SUCCESS" and result["found"] is False and "is not an interpreter" in result["reason"]


def test_a_folder_changed_by_one_byte_hashes_differently(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"\0")
    _, first, _ = adhoc.run_module("mlps_code_hash", {"path": str(tmp_path)})
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"\1")          # excluded: the hash stays
    _, same, _ = adhoc.run_module("mlps_code_hash", {"path": str(tmp_path)})
    (tmp_path / "a.py").write_text("x = 2\n")
    _, other, _ = adhoc.run_module("mlps_code_hash", {"path": str(tmp_path)})
    assert first["code_image"] == same["code_image"] != other["code_image"]


def test_a_file_is_hashed_by_its_bytes(tmp_path):
    binary = tmp_path / "ior"
    binary.write_bytes(b"\x7fELF stand-in")
    status, result, _ = adhoc.run_module("mlps_code_hash", {"path": str(binary)})
    assert status == "SUCCESS" and result["found"] is True and result["path"] == str(binary)
    assert result["code_image"] == f"sha256:{hashlib.sha256(binary.read_bytes()).hexdigest()}"
