"""TRAIN-CODE (3.6.1 / 2.1.6): a leaf's code-image pointer against the image in the tree."""

from __future__ import annotations

import json

from mlps.rulebook import code_image
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.rules import code_image_rule
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_training_workload


def found(result, outcome=Outcome.INVALID):
    return [f for f in result.findings if f.rule_id == "TRAIN-CODE" and f.outcome == outcome]


def make_image(org, files=None):
    """A captured image: code-<hash8>/ under the org with its .code-hash.json; returns (folder, hash)."""
    staging = org / "staging"
    for rel, text in (files or {"dlio_benchmark/main.py": "print('dlio')\n", "README.md": "code\n"}).items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_text(text)
    digest = code_image.tree_hash(staging)
    image = org / f"code-{digest[:8]}"
    staging.rename(image)
    (image / code_image.HASH_FILE).write_text(json.dumps({"hash": digest, "algorithm": "md5-tree-v2"}))
    return image, digest


def point_leaves(workload, digest):
    for leaf in sorted((workload / "run").glob("2*")):
        (leaf / code_image.POINTER).write_text(f"md5-tree-v2:{digest}")


def test_image_that_matches_passes_and_is_not_read_as_results(tmp_path):
    workload = build_training_workload(tmp_path)
    _image, digest = make_image(tmp_path / "closed" / "Org")
    point_leaves(workload, digest)
    result = verify(tmp_path)
    assert found(result) == [] and found(result, Outcome.WARNING) == []
    assert result.rules["TRAIN-CODE"]["evaluated"] == 1 and result.verdict == Verdict.CLOSED




def test_excluded_files_do_not_change_the_hash(tmp_path):
    image, digest = make_image(tmp_path)
    (image / "__pycache__").mkdir()
    (image / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (image / "tests").mkdir()
    (image / "tests" / "test_x.py").write_text("x\n")
    assert code_image.tree_hash(image) == digest


def test_image_edited_after_capture_is_invalid(tmp_path):
    workload = build_training_workload(tmp_path)
    image, digest = make_image(tmp_path / "closed" / "Org")
    point_leaves(workload, digest)
    (image / "dlio_benchmark" / "main.py").write_text("print('faster')\n")
    (hit,) = found(verify(tmp_path))
    assert "files changed after capture" in hit.message and hit.evidence.endswith(image.name)


def test_leaf_pointing_at_another_hash_is_invalid(tmp_path):
    workload = build_training_workload(tmp_path)
    _image, digest = make_image(tmp_path / "closed" / "Org")
    other = digest[:8] + "0" * 24
    point_leaves(workload, other)
    hits = found(verify(tmp_path))
    assert len(hits) == 6 and hits[0].expected == digest and hits[0].actual == other


def test_pointer_to_an_image_not_in_the_tree_is_a_warning_naming_it(tmp_path):
    workload = build_training_workload(tmp_path)
    point_leaves(workload, "5d45230ad16c10d7a09e4c34810dbf16")
    hits = found(verify(tmp_path), Outcome.WARNING)
    assert len(hits) == 6 and hits[0].missing == "closed/Org/code-5d45230a/.code-hash.json"


def test_unreadable_pointer_is_invalid(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = sorted((workload / "run").glob("2*"))[0]
    (leaf / code_image.POINTER).write_text("sha1:abc")
    (hit,) = found(verify(tmp_path))
    assert "not <algorithm>:<md5>" in hit.message


# --- the sanctioned digest: unknown (said once), matching, different -----------------------------------
def test_unknown_sanctioned_digest_is_said_once(tmp_path):
    workload = build_training_workload(tmp_path)
    _image, digest = make_image(tmp_path / "closed" / "Org")
    point_leaves(workload, digest)
    (note,) = found(verify(tmp_path), Outcome.INFO)
    assert "reference checksum of the v3.0 code is not known" in note.message
    assert ".code-hash.json was checked" in note.message and note.evidence == f"closed/Org/code-{digest[:8]}"


def test_sanctioned_digest_that_matches_passes(tmp_path, monkeypatch):
    workload = build_training_workload(tmp_path)
    _image, digest = make_image(tmp_path / "closed" / "Org")
    point_leaves(workload, digest)
    monkeypatch.setattr(code_image_rule, "SANCTIONED", {"3.0": digest})
    result = verify(tmp_path)
    assert found(result) == [] and found(result, Outcome.INFO) == [] and result.verdict == Verdict.CLOSED


def test_sanctioned_digest_that_differs_is_invalid_in_closed_only(tmp_path, monkeypatch):
    workload = build_training_workload(tmp_path)
    _image, digest = make_image(tmp_path / "closed" / "Org")
    point_leaves(workload, digest)
    monkeypatch.setattr(code_image_rule, "SANCTIONED", {"3.0": "0" * 32})
    hits = found(verify(tmp_path))
    assert len(hits) == 6 and {(h.expected, h.actual) for h in hits} == {("0" * 32, digest)}
    assert found(verify(tmp_path, profile="open")) == []
