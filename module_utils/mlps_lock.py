"""Lockfile format shared by the `mlps lockfile` CLI and the mlps_lock_verify module.

A lock is a pip requirements file (installable with `pip install --no-deps -r`), with a header of
`# key: value` comments saying which input, Python and platform it was made for. Pure stdlib so
that it runs inside any client venv and inside Ansible modules.
"""

from __future__ import annotations

import hashlib
import re

LOCK_SCHEMA = "mlps-lock/1"
# The options of every module that installs from locks (mlps_venv, mlps_wheelhouse): one home, so
# they stay the same in both.
INSTALL_OPTIONS = {
    "python": {"type": "str", "default": "python3"},
    "lock_names": {"type": "list", "elements": "str", "required": True},
    "lock_contents": {"type": "list", "elements": "str", "required": True},
    "pip_args": {"type": "list", "elements": "str", "default": []},
    "timeout": {"type": "int", "default": 1800},
}
_HEADER = re.compile(r"^#\s*([a-z][a-z0-9_-]*):\s*(.*)$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_DIRECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*@\s*(\S+)")
_HASH = re.compile(r"--hash=(\w+:[0-9a-fA-F]+)")


def normalize(name: str) -> str:
    """PEP 503 name normalisation, so `Pillow` and `pillow`, `hydra_core` and `hydra-core` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _logical_lines(text: str):
    """Join backslash continuations, keep comments whole."""
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield (buf + line).strip()
        buf = ""
    if buf.strip():
        yield buf.strip()


def parse_lock(text: str) -> dict:
    """Return {"header": {...}, "entries": [{"name", "key", "version", "hashes", "url"}], "errors": [...]}."""
    header: dict[str, str] = {}
    entries: list[dict] = []
    errors: list[str] = []
    for number, line in enumerate(_logical_lines(text), start=1):
        if not line:
            continue
        if line.startswith("#"):
            match = _HEADER.match(line)
            if match and not entries:
                header[match.group(1)] = match.group(2).strip()
            continue
        if line.startswith("-"):
            continue  # pip options such as --index-url are passed through to pip untouched
        pin = _PIN.match(line)
        direct = _DIRECT.match(line)
        if pin:
            entries.append({"name": pin.group(1), "key": normalize(pin.group(1)), "version": pin.group(2),
                            "hashes": _HASH.findall(line), "url": None})
        elif direct:
            entries.append({"name": direct.group(1), "key": normalize(direct.group(1)), "version": None,
                            "hashes": _HASH.findall(line), "url": direct.group(2)})
        else:
            errors.append(f"line {number}: not a pinned requirement (name==version or name @ url): {line[:80]}")
    return {"header": header, "entries": entries, "errors": errors}


def render_lock(header: dict, entries: list[dict]) -> str:
    lines = [f"# schema: {LOCK_SCHEMA}"]
    lines += [f"# {key}: {value}" for key, value in header.items() if key != "schema"]
    lines.append("# Install with: pip install --no-deps -r <this file>")
    for entry in sorted(entries, key=lambda e: e["key"]):
        url = entry.get("url")
        head = f"{entry['name']} @ {url}" if url else f"{entry['name']}=={entry['version']}"
        hashes = [f"    --hash={h}" for h in entry.get("hashes") or []]
        lines.append(" \\\n".join([head, *hashes]))
    return "\n".join(lines) + "\n"


def compare(entries: list[dict], installed: dict[str, str], pip: str = "pip",
            overridden: tuple[str, ...] = ()) -> list[dict]:
    """Compare locked entries with installed {normalized name: version}.

    Returns one problem per entry that does not match: status is `missing`, `mismatch`,
    `unverifiable` (VCS/URL requirements carry no version to compare) or `overridden` (the user
    asked for another spec on purpose). Each problem carries the command that fixes it.
    """
    problems = []
    overridden_keys = {normalize(name) for name in overridden}
    for entry in entries:
        found = installed.get(entry["key"])
        if entry["key"] in overridden_keys:
            problems.append({"name": entry["name"], "status": "overridden", "expected": entry["version"],
                             "found": found, "fix": ""})
            continue
        if entry.get("url"):
            problems.append({"name": entry["name"], "status": "unverifiable", "expected": entry["url"],
                             "found": found, "fix": ""})
            continue
        if found == entry["version"]:
            continue
        status = "missing" if found is None else "mismatch"
        problems.append({"name": entry["name"], "status": status, "expected": entry["version"], "found": found,
                         "fix": f"{pip} install --no-deps '{entry['name']}=={entry['version']}'"})
    return problems


def is_error(problem: dict) -> bool:
    return problem["status"] in ("missing", "mismatch")


# Run by the target interpreter (python -c) to list what it has installed; prints JSON.
INSTALLED_SNIPPET = (
    "import json, importlib.metadata as m, re\n"
    "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version"
    " for d in m.distributions() if d.metadata['Name']}))"
)
