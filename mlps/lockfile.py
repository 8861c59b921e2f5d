"""Generate and verify lockfiles (format in module_utils/mlps_lock.py).

Generation asks pip itself to resolve (`pip install --dry-run --report`), so the pins are exactly
what pip would install for this Python and platform, with the registry's hashes where it gives them.
A line in a `.in` file ending in `# mlps: no-deps` is resolved on its own without dependencies:
DLIO 2.0.0 on PyPI declares dependencies that cannot be installed from PyPI (see README).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from mlps.errors import UserError
from mlps.jsonio import write_text_atomic
from mlps_module_utils import mlps_lock

NO_DEPS_MARK = "# mlps: no-deps"


def split_input(text: str) -> tuple[list[str], list[str]]:
    """Return (lines resolved with dependencies, lines resolved alone without)."""
    with_deps, no_deps = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if NO_DEPS_MARK in line:
            no_deps.append(line.split("#", 1)[0].strip())
        else:
            with_deps.append(line.split(" #", 1)[0].strip())
    return with_deps, no_deps


def _pip_report(python: str, requirements: list[str], no_deps: bool, base: Path) -> list[dict]:
    if not requirements:
        return []
    with tempfile.TemporaryDirectory(prefix="mlps-lock-") as tmp:
        req = Path(tmp) / "req.txt"
        req.write_text("\n".join(requirements) + "\n")
        report = Path(tmp) / "report.json"
        argv = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                "--report", str(report), "-r", str(req)]
        if no_deps:
            argv.insert(argv.index("--dry-run"), "--no-deps")
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=base, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise UserError(f"pip could not resolve {', '.join(requirements)}: {tail}; "
                            "fix the requirement or the index settings and run again", exit_code=3)
        return json.loads(report.read_text())["install"]


def _entry(item: dict) -> dict:
    meta, info = item["metadata"], item.get("download_info") or {}
    name = meta["name"]
    archive = info.get("archive_info") or {}
    hashes = [f"{algo}:{value}" for algo, value in sorted((archive.get("hashes") or {}).items())
              if algo == "sha256"]
    if not hashes and archive.get("hash", "").startswith("sha256="):
        hashes = ["sha256:" + archive["hash"].split("=", 1)[1]]
    url = None
    if item.get("is_direct") and (info.get("vcs_info") or info.get("dir_info") or not archive):
        url = info.get("url")
        if info.get("vcs_info"):
            vcs = info["vcs_info"]
            url = f"{vcs['vcs']}+{info['url']}@{vcs.get('commit_id', '')}"
    return {"name": name, "key": mlps_lock.normalize(name), "version": meta["version"],
            "hashes": hashes, "url": url}


def target_python_info(python: str) -> dict:
    code = ("import json, platform, sys, sysconfig; print(json.dumps({'python': platform.python_version(), "
            "'implementation': sys.implementation.name, 'platform': sysconfig.get_platform()}))")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UserError(f"--python {python}: cannot run it ({proc.stderr.strip()[:120]}); give a working interpreter")
    return json.loads(proc.stdout)


def generate(in_path: Path, out_path: Path, python: str = sys.executable) -> dict:
    if not in_path.is_file():
        raise UserError(f"{in_path}: input file not found; expected a requirements .in file "
                        "such as requirements/client.in")
    text = in_path.read_text()
    with_deps, no_deps = split_input(text)
    entries: dict[str, dict] = {}
    base = in_path.parent
    resolved = _pip_report(python, with_deps, False, base) + _pip_report(python, no_deps, True, base)
    for item in resolved:
        entry = _entry(item)
        entries[entry["key"]] = entry
    info = target_python_info(python)
    header = {"source": f"{in_path.name} sha256={mlps_lock.content_hash(text)}", **info,
              "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    rendered = mlps_lock.render_lock(header, list(entries.values()))
    write_text_atomic(out_path, rendered)  # atomic: a failed run never leaves half a lock behind
    return {"path": str(out_path), "packages": len(entries),
            "hashed": sum(1 for e in entries.values() if e["hashes"])}


def installed_versions(python: str) -> dict[str, str]:
    proc = subprocess.run([python, "-c", mlps_lock.INSTALLED_SNIPPET], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UserError(f"--python {python}: cannot list installed packages; is it a working interpreter?")
    return json.loads(proc.stdout)


def verify(lock_path: Path, python: str = sys.executable) -> dict:
    if not lock_path.is_file():
        raise UserError(f"{lock_path}: lock file not found; generate it with `mlps lockfile generate`")
    lock = mlps_lock.parse_lock(lock_path.read_text())
    if lock["errors"]:
        raise UserError(f"{lock_path}: {lock['errors'][0]}; regenerate the lock with `mlps lockfile generate`")
    pip = str(Path(python).with_name("pip"))
    problems = mlps_lock.compare(lock["entries"], installed_versions(python), pip=pip)
    info = target_python_info(python)
    warnings = [f"lock made for {key} {lock['header'][key]}, this is {info[key]}"
                for key in ("python", "platform") if lock["header"].get(key) not in (None, info[key])]
    return {"lock": str(lock_path), "python": python, "problems": problems, "warnings": warnings,
            "ok": not any(mlps_lock.is_error(p) for p in problems), "platform": platform.platform()}
