"""module_utils/mlps_safepath.py and the modules that write under staging, against a hostile local
user (uid nobody) who owns or can write a folder above the staging folder and plants symlinks and
hard links to a victim file. Every attack must be refused and leave the victim as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlps_module_utils import mlps_safepath as sp

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOBODY = 65534
SECRET = b"root:$6$victim-hash:19000:0:99999:7:::\n"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="an attacker uid other than ours needs root to fake")


@pytest.fixture
def world(tmp_path):
    """A /var/tmp-like sticky shared folder, a victim file only root may write, and the attacker's
    0777 base inside the shared folder (what `mkdir -m 777 /var/tmp/mlps` by a local user makes)."""
    shared = tmp_path / "vartmp"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "shadow"
    victim.write_bytes(SECRET)
    victim.chmod(0o600)
    base = shared / "mlps"
    base.mkdir()
    base.chmod(0o777)
    os.chown(base, NOBODY, NOBODY)
    return {"shared": shared, "victim": victim, "base": base}


def intact(victim: Path) -> bool:
    return victim.read_bytes() == SECRET


def test_attacker_owned_base_is_refused_naming_owner_mode_and_fix(world):
    stage = world["base"] / "training"
    stage.mkdir()
    (stage / "out.log").symlink_to(world["victim"])
    with pytest.raises(sp.UnsafePathError) as err:
        sp.replace_file(str(stage / "out.log"))
    msg = err.value.strerror
    assert f"{world['base']} is owned by uid {NOBODY} with mode 0777" in msg
    assert "chmod 0700" in msg and "\n" not in msg
    assert intact(world["victim"])


def test_make_folder_refuses_to_create_under_an_attacker_base(world):
    with pytest.raises(sp.UnsafePathError, match="owned by uid 65534"):
        sp.make_folder(str(world["base"] / "training" / "run-1"))
    assert not (world["base"] / "training").exists()


def test_group_writable_root_folder_without_sticky_bit_is_refused(world):
    loose = world["shared"] / "loose"
    loose.mkdir()
    loose.chmod(0o775)
    with pytest.raises(sp.UnsafePathError, match=r"loose is owned by uid 0 with mode 0775"):
        sp.make_folder(str(loose / "x"))


def test_attacker_symlink_in_a_sticky_folder_is_refused(world, tmp_path):
    # /var/tmp/mlps -> a folder the attacker chose; the link itself belongs to the attacker.
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = world["shared"] / "mlps-link"
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)
    with pytest.raises(sp.UnsafePathError, match="is a symlink owned by uid 65534"):
        sp.make_folder(str(link / "training"))
    assert not (target / "training").exists()


def test_root_owned_symlink_on_the_way_is_followed_and_its_target_checked(world, tmp_path):
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = world["shared"] / "root-link"
    link.symlink_to(target)
    made = sp.make_folder(str(link / "a" / "b"))
    assert made == str(target / "a" / "b")
    assert (target / "a" / "b").stat().st_mode & 0o777 == 0o700


def test_fresh_base_in_a_sticky_folder_is_created_0700_and_used(world):
    stage = sp.make_folder(str(world["shared"] / "ours" / "training"))
    assert os.stat(stage).st_mode & 0o7777 == 0o700
    assert os.stat(os.path.dirname(stage)).st_mode & 0o7777 == 0o700
    fd = sp.open_file(os.path.join(stage, "lease"), os.O_WRONLY, new=True)
    os.close(fd)
    with pytest.raises(FileExistsError):
        sp.open_file(os.path.join(stage, "lease"), os.O_WRONLY, new=True)


def test_planted_symlink_is_unlinked_not_followed_by_replace_file(world):
    stage = Path(sp.make_folder(str(world["shared"] / "ours")))
    (stage / "series.jsonl").symlink_to(world["victim"])
    fd = sp.replace_file(str(stage / "series.jsonl"))
    os.write(fd, b"{}\n")
    os.close(fd)
    assert not (stage / "series.jsonl").is_symlink()
    assert intact(world["victim"])


def test_open_file_never_follows_or_truncates_a_link(world):
    stage = Path(sp.make_folder(str(world["shared"] / "ours")))
    (stage / "sym").symlink_to(world["victim"])
    with pytest.raises(sp.UnsafePathError, match="is a symlink"):
        sp.open_file(str(stage / "sym"), os.O_WRONLY | os.O_TRUNC)
    os.link(world["victim"], stage / "hard")
    with pytest.raises(sp.UnsafePathError, match="2 links"):
        sp.open_file(str(stage / "hard"), os.O_WRONLY | os.O_TRUNC)
    sp.touch(str(stage / "lease"))
    assert intact(world["victim"])


def test_relative_path_is_refused():
    with pytest.raises(sp.UnsafePathError, match="not absolute"):
        sp.make_folder("var/tmp/mlps")


def ansible(module: str, args: dict) -> tuple[str, dict]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"),
                           "-m", module, "-a", json.dumps(args)],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=120)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep, f"no result in ansible output:\n{proc.stdout}\n{proc.stderr}"
    return head.split("|")[-1].strip(), json.loads(body)


def hijacked_stage(world) -> Path:
    stage = world["base"] / "training" / "run"
    stage.mkdir(parents=True)
    for name in ("stdout.log", "stderr.log", "lease", "series.jsonl", "archive.tar.part", "stop"):
        (stage / name).symlink_to(world["victim"])
    return stage


def test_mpirun_module_refuses_a_hijacked_staging_folder(world):
    stage = hijacked_stage(world)
    status, result = ansible("mlps_mpirun", {
        "command": ["true"], "np": 1, "chdir": str(stage), "stdout_path": str(stage / "stdout.log"),
        "stderr_path": str(stage / "stderr.log"), "lease_file": str(stage / "lease")})
    assert status == "FAILED!"
    assert f"{world['base']} is owned by uid {NOBODY} with mode 0777" in result["msg"]
    assert intact(world["victim"])


def test_sampler_module_refuses_a_hijacked_staging_folder(world):
    stage = hijacked_stage(world)
    status, result = ansible("mlps_sampler", {"output": str(stage / "series.jsonl"), "interval": 0.2,
                                              "max_samples": 2, "create_parent": True})
    assert status == "FAILED!"
    assert "owned by uid 65534 with mode 0777" in result["msg"]
    assert intact(world["victim"])


def test_stage_pack_refuses_a_hijacked_stage_and_archive_folder(world):
    stage = hijacked_stage(world)
    status, result = ansible("mlps_stage_pack", {"stage": str(stage), "archive": str(stage.parent / "archive.tar"),
                                                 "members": ["stdout.log"], "stop_file": str(stage / "stop")})
    assert status == "FAILED!"
    assert "owned by uid 65534 with mode 0777" in result["msg"]
    assert intact(world["victim"])
    assert stage.exists()  # refused before anything, the attacker's folder is not ours to remove


def test_staging_module_creates_0700_and_refuses_the_attacker_base(world):
    status, result = ansible("mlps_staging", {"path": str(world["base"] / "training" / "c1")})
    assert status == "FAILED!" and "owned by uid 65534 with mode 0777" in result["msg"]
    good = world["shared"] / "mlps-ok" / "training" / "c1"
    status, result = ansible("mlps_staging", {"path": str(good)})
    assert status == "CHANGED", result
    assert good.stat().st_mode & 0o7777 == 0o700 and good.parent.stat().st_mode & 0o7777 == 0o700
