"""A full filesystem during a write: on a real 64 KiB tmpfs, every path that writes
results or metadata leaves the previous file intact, leaves no temporary file, and fails with one
line naming the file. Needs root (it mounts the tmpfs)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from mlps import cli, cluster, jsonio, preflight
from mlps.campaign import frame
from mlps.errors import UserError
from mlps.report import files

REPO = Path(__file__).resolve().parent.parent.parent
V1 = REPO / "tests" / "fixtures" / "mlperf_results" / "storage_results_v1.0"
SIZE = 64 * 1024


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs mounted on a fresh folder, unmounted afterwards."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", f"mlps-{uuid.uuid4().hex[:8]}",
                           str(mountpoint)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs on {mountpoint} ({proc.stderr.strip()}); run tests/faults as root")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the filesystem is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def assert_refused(error: BaseException | str, path: Path) -> None:
    message = str(error)
    assert str(path) in message and "No space left on device" in message and "free space" in message
    assert "\n" not in message.strip()


def assert_untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def big(n: int = 3000) -> dict:
    return {"values": list(range(n))}             # about 20 KiB as JSON


def test_full_disk_before_the_write(tiny_fs):
    path = tiny_fs / "results.json"
    jsonio.write_json_atomic(path, {"run": 1})
    before = path.read_bytes()
    filler = fill(tiny_fs)
    with pytest.raises(UserError) as caught:
        jsonio.write_json_atomic(path, {"run": 2})
    assert_refused(caught.value, path)
    assert_untouched(path, before)
    filler.unlink()                                 # space back: the same call now works
    jsonio.write_json_atomic(path, {"run": 2})
    assert json.loads(path.read_text()) == {"run": 2}


def test_disk_fills_during_the_write(tiny_fs):
    path = tiny_fs / "results.json"
    jsonio.write_json_atomic(path, big(1000))
    before = path.read_bytes()
    with pytest.raises(UserError) as caught:
        jsonio.write_text_atomic(path, "x" * (2 * SIZE))   # larger than the whole filesystem
    assert_refused(caught.value, path)
    assert_untouched(path, before)


def test_cluster_info_and_report_files(tiny_fs, real_facts_doc):
    info = cluster.build_cluster([real_facts_doc])
    info_path = tiny_fs / "cluster_info.json"
    cluster.write_cluster_info(info_path, info)
    report = tiny_fs / "report" / "results.csv"
    files.write_atomic(report, "a,b\n1,2\n")
    before_info, before_report = info_path.read_bytes(), report.read_bytes()
    fill(tiny_fs)
    bigger = cluster.build_cluster([real_facts_doc, dict(real_facts_doc, hostname="other", machine_id="other")])
    with pytest.raises(UserError) as caught:
        cluster.write_cluster_info(info_path, bigger)
    assert_refused(caught.value, info_path)
    with pytest.raises(UserError) as caught:
        files.write_atomic(report, "a,b\n3,4\n")
    assert_refused(caught.value, report)
    assert "--out" in str(caught.value)
    assert_untouched(info_path, before_info)
    assert_untouched(report, before_report)


def test_verify_json_output(tiny_fs, capsys):
    target = tiny_fs / "verdict.json"
    target.write_text('{"old": true}\n')
    fill(tiny_fs)
    assert cli.main(["verify", str(V1), "--json", str(target)]) == 2
    err = capsys.readouterr().err
    assert_refused(err, target)
    assert "Traceback" not in err
    assert_untouched(target, b'{"old": true}\n')


def test_campaign_metadata(tiny_fs):
    leaf, stamp = frame.allocate_leaf(tiny_fs / "workload", "run")
    first = frame.update_metadata(leaf, stamp, {"status": "running", "plan": big(300)}, "training")
    path = leaf / frame.metadata_name(stamp, "training")
    before = path.read_bytes()
    fill(tiny_fs)
    with pytest.raises(UserError) as caught:
        frame.update_metadata(leaf, stamp, {"status": "completed"}, "training")
    assert_refused(caught.value, path)
    assert_untouched(path, before)
    assert json.loads(before)["status"] == first["status"] == "running"


def test_preflight_report(tiny_fs):
    path = tiny_fs / "preflight.json"
    preflight.write_report(path, {"schema": "mlps-preflight/1", "ok": True})
    before = path.read_bytes()
    fill(tiny_fs)
    with pytest.raises(UserError) as caught:
        preflight.write_report(path, {"schema": "mlps-preflight/1", "ok": False, "checks": big(300)})
    assert_refused(caught.value, path)
    assert_untouched(path, before)


@pytest.fixture
def real_facts_doc():
    """This machine's host facts, as the collector writes them."""
    from mlps_module_utils import mlps_procfs

    return mlps_procfs.collect("/")
