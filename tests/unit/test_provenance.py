"""mlps.campaign.provenance: provenance.json (mlps-run-provenance/1) in every leaf the campaigns write,
for training (datagen and run leaves) and checkpointing alike."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlps.campaign import provenance
from tests.unit.test_ckpt_campaign import started
from tests.unit.test_phase import start

TOP_FIELDS = {"schema", "rules_edition", "layout_version", "tool", "dlio", "storage_library", "core_config",
              "stamped_at", "stamped_by", "provenance"}


def _read(leaf: Path) -> dict:
    return json.loads((leaf / "provenance.json").read_text())


def test_core_config_hash_is_sha256_of_the_canonical_allow_listed_keys():
    core = provenance.core_config({"dataset.num_files_train": 16, "train.epochs": 2, "output.folder": "/x/1"})
    canonical = json.dumps({"dataset.num_files_train": 16, "train.epochs": 2}, sort_keys=True, separators=(",", ":"))
    assert core["hash"] == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert core["algorithm"] == "core-config-v1" and core["keys"] == ["dataset.num_files_train", "train.epochs"]
    # a path outside the allow-list never changes the hash; a core key does
    assert provenance.core_config({"dataset.num_files_train": 16, "train.epochs": 2,
                                   "output.folder": "/y/2"})["hash"] == core["hash"]
    assert provenance.core_config({"dataset.num_files_train": 17, "train.epochs": 2})["hash"] != core["hash"]


def test_training_leaf_has_provenance_named_by_its_metadata(tmp_path):
    began = start(tmp_path)
    leaf = tmp_path / "wl" / "run" / began["stamp"]
    document = _read(leaf)
    assert set(document) == TOP_FIELDS and document["schema"] == "mlps-run-provenance/1"
    assert document["provenance"] == {"benchmark": "training", "command": "run", "leaf": began["stamp"],
                                      "campaign_id": "C1"}
    assert "workload" in document["core_config"]["keys"] and "train.epochs" in document["core_config"]["keys"]
    # the context of this test names no DLIO version: said as unknown, never guessed
    assert document["dlio"] == {"version": "unknown", "source": "unknown", "commit": "unknown"}
    assert document["tool"]["name"] == "mlps" and document["tool"]["code_image"].startswith("md5-tree-v2:")
    metadata = json.loads((leaf / f"training_{began['stamp']}_metadata.json").read_text())
    assert metadata["provenance_file"] == "provenance.json"


def test_checkpointing_leaf_has_provenance_named_by_its_metadata(tmp_path):
    _plan, names = started(tmp_path)
    leaf = Path(names["leaf"])
    document = _read(leaf)
    assert set(document) == TOP_FIELDS and document["provenance"]["benchmark"] == "checkpointing"
    assert document["core_config"]["keys"] and document["rules_edition"] == "3.0"
    metadata = json.loads((leaf / f"checkpointing_{leaf.name}_metadata.json").read_text())
    assert metadata["provenance_file"] == "provenance.json"


def test_dlio_version_comes_from_the_launchers_versions():
    document = provenance.build(benchmark="training", command="datagen", stamp="20260101_000000",
                                context={"versions": {"dlio_benchmark": "2.0.0"}}, config={})
    assert document["dlio"]["version"] == "2.0.0" and document["dlio"]["source"] == "pip"
    assert document["provenance"]["campaign_id"] == "unknown"


def test_the_campaigns_tool_identity_is_used_instead_of_hashing_the_checkout_again(monkeypatch):
    def hashed_again(*_args):
        raise AssertionError("the checkout was hashed again")
    monkeypatch.setattr(provenance, "tool_identity", hashed_again)
    tool = {"version": "0.1.0", "git_sha": "abc123", "code_image": "md5-tree-v2:" + "0" * 32}
    document = provenance.build(benchmark="kv_cache", command="run", stamp="20261202_070000",
                                context={"tool": tool}, config={})
    assert document["tool"] == {"name": "mlps", "version": provenance.__version__, "git_sha": "abc123",
                                "code_image": "md5-tree-v2:" + "0" * 32}
