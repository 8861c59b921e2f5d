"""mlps.campaign.archive_intake: a client's staging archive is hostile input on the controller. Each
attack is a tar built here; each must be refused with the host named and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from mlps.campaign import archive_intake as ai

ROUTES = {"dlio": ".", "timeseries": "training_20260101_000000_timeseries"}


def build(path: Path, members: dict) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = data if isinstance(data, tarfile.TarInfo) else tarfile.TarInfo(name)
            info.name = name
            payload = None
            if isinstance(data, bytes):
                info.size = len(data)
                payload = io.BytesIO(data)
            tar.addfile(info, payload)
    return path


def refused(tmp_path: Path, archive: Path, match: str, host: str = "h2", **limits) -> Path:
    leaf = tmp_path / "leaf"
    leaf.mkdir(exist_ok=True)
    with pytest.raises(ai.ArchiveRefused, match=match) as err:
        ai.unpack(archive, host, leaf, ROUTES, limits or None)
    assert str(err.value).startswith(f"archive from {host} refused: ") and "\n" not in str(err.value)
    assert not [p for p in leaf.rglob("*")], "a refused archive wrote into the leaf"
    return leaf


def test_what_a_phase_writes_is_unpacked(tmp_path):
    archive = build(tmp_path / "a.tar", {"dlio/summary.json": b"{}", "dlio/0_output.json": b"{}",
                                         "dlio/1_per_epoch_stats.json": b"{}", "dlio/dlio.log": b"log",
                                         "dlio/training_run.stdout.log": b"", "dlio/.hydra/config.yaml": b"a: 1",
                                         "timeseries/h2.jsonl": b"{}\n"})
    leaf = tmp_path / "leaf"
    leaf.mkdir()
    written = ai.unpack(archive, "h2", leaf, ROUTES)
    assert sorted(written) == [".hydra/config.yaml", "0_output.json", "1_per_epoch_stats.json", "dlio.log",
                               "summary.json", "training_20260101_000000_timeseries/h2.jsonl",
                               "training_run.stdout.log"]
    assert (leaf / "dlio.log").read_bytes() == b"log"


@pytest.mark.parametrize("name", [
    "dlio/training_20260101_000000_metadata.json", "dlio/cluster_info.json", "dlio/cluster_info_start.json",
    "dlio/preflight.json", "dlio/drop_caches.json", "timeseries/h1.jsonl", "timeseries/h2.jsonl.extra",
    "metadata.json", "lease", "dlio/sub/summary.json"])
def test_names_the_host_does_not_write_are_refused(tmp_path, name):
    archive = build(tmp_path / "a.tar", {"dlio/summary.json": b"{}", name: b"{\"forged\": true}"})
    refused(tmp_path, archive, "is not a file this host's phase writes")


@pytest.mark.parametrize("name", ["../evil", "/etc/cron.d/evil", "dlio/../../evil"])
def test_traversal_is_refused(tmp_path, name):
    refused(tmp_path, build(tmp_path / "a.tar", {name: b"x"}), "points outside the leaf")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_are_refused(tmp_path, kind):
    info = tarfile.TarInfo("dlio/summary.json")
    info.type, info.linkname = kind, "/etc/shadow"
    refused(tmp_path, build(tmp_path / "a.tar", {"dlio/summary.json": info}), "not a plain file")


def test_a_sparse_member_is_refused(tmp_path):
    # 10 KB of archive that would unpack to 100 MB: GNU tar's --sparse, as a client could send.
    src = tmp_path / "src" / "dlio"
    src.mkdir(parents=True)
    with (src / "dlio.log").open("wb") as handle:
        handle.truncate(100 << 20)
        handle.write(b"x")
    archive = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "-C", str(tmp_path / "src"), "-cf", str(archive), "dlio/dlio.log"],
                   check=True)
    assert archive.stat().st_size < 64 << 10
    refused(tmp_path, archive, "is a sparse file")


def test_a_member_declaring_8_gib_is_refused_by_default(tmp_path):
    info = tarfile.TarInfo("dlio/dlio.log")
    info.size = 8 << 30
    archive = tmp_path / "huge.tar"
    archive.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 4096)  # header only: the data is a lie
    refused(tmp_path, archive, r"is 8589934592 bytes, above the 1073741824 bytes allowed per file")


def test_member_count_and_total_size_are_capped(tmp_path):
    many = build(tmp_path / "many.tar", {f"dlio/{i}_output.json": b"{}" for i in range(11)})
    refused(tmp_path, many, "more than 10 members", members=10)
    big = build(tmp_path / "big.tar", {f"dlio/{i}_output.json": b"x" * 600 for i in range(2)})
    refused(tmp_path, big, "more than the 1000 bytes allowed", archive_bytes=1000)


@pytest.mark.parametrize("content", [b"this is not a tar", b""])
def test_unreadable_archive_is_a_refusal_naming_the_host(tmp_path, content):
    archive = tmp_path / "bad.tar"
    archive.write_bytes(content)
    refused(tmp_path, archive, "not a readable uncompressed tar", host="h3")


def test_compressed_archive_is_refused(tmp_path):
    plain = build(tmp_path / "a.tar", {"dlio/summary.json": b"{}"})
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(plain.read_bytes()))
    refused(tmp_path, archive, "not a readable uncompressed tar")


def test_truncated_archive_is_refused_before_writing(tmp_path):
    whole = build(tmp_path / "a.tar", {"dlio/summary.json": b"{}", "dlio/dlio.log": b"y" * 5000})
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[:2048])
    refused(tmp_path, cut, "not a readable uncompressed tar")
