"""DLIO's configuration files in a leaf: `overrides.yaml`, `config.yaml`, `hydra.yaml`.

Most are read with a small parser of the plain `key: value` YAML DLIO writes (fast, and it cannot be
made to build objects); anything else goes through the bounded YAML reader. Problems are appended
to the caller's list, never raised.
"""

from __future__ import annotations

import re

from mlps.jsonio import ReadError, parse_yaml, shape_problem
from mlps.results.models import Problem


def parse_overrides(text: str, rel: str, problems: list):
    """overrides.yaml is a plain list of strings; read it by hand, fall back to YAML if it is not."""
    items = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("- "):
            return _yaml_list(text, rel, problems)
        item = line[2:].strip()
        if len(item) >= 2 and item[0] in "'\"" and item[-1] == item[0]:
            item = item[1:-1]
        items.append(item)
    return items


def _load_yaml(text: str, rel: str, problems: list):
    """(ok, data): YAML through the safe loader, refused when nested too deeply or built with aliases."""
    try:
        return True, parse_yaml(text, rel)
    except ReadError as exc:
        problems.append(Problem(exc.kind, rel, exc.detail))
        return False, None


def _shape_ok(data, rel: str, problems: list) -> bool:
    problem = shape_problem(data)
    if problem:
        problems.append(Problem("unparsable", rel, f"YAML {problem}"))
    return problem is None


def _yaml_list(text: str, rel: str, problems: list):
    ok, data = _load_yaml(text, rel, problems)
    if not ok:
        return None
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append(Problem("unparsable", rel, "expected a YAML list of override strings"))
        return None
    return [str(item) for item in data]


_KEY_RE = re.compile(r"^([A-Za-z0-9_.\-/]+):(?: +(.*))?$")
_INT_RE = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT_RE = re.compile(r"^[-+]?[0-9]+\.[0-9]*$")
_PLAIN_RE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./\-]*$")
_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})
_CONSTANTS = {"true": True, "false": False, "null": None, "~": None}


class _NotSimple(Exception):
    """The text uses YAML beyond plain block mappings of simple scalars; let PyYAML read it."""


def _scalar(text: str):
    if text in ("", "~") or text.lower() in _CONSTANTS:
        if text not in ("", "~", "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"):
            raise _NotSimple
        return _CONSTANTS.get(text.lower())
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1]:
        return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == '"' and not set('"\\') & set(text[1:-1]):
        return text[1:-1]
    if _PLAIN_RE.match(text) and text.lower() not in _YAML11_WORDS:
        return text
    raise _NotSimple


def _key_line(raw: str):
    """(indent, key, value text or None) of one `key: value` line; _NotSimple for anything else."""
    stripped = raw.strip()
    if "\t" in raw[: len(raw) - len(raw.lstrip())]:
        raise _NotSimple
    match = _KEY_RE.match(stripped)
    if not match:
        raise _NotSimple
    key, value = match.group(1), match.group(2)
    if _INT_RE.match(key) or _FLOAT_RE.match(key) or key.lower() in _CONSTANTS or key.lower() in _YAML11_WORDS:
        raise _NotSimple                    # YAML would not make this key a string
    return len(raw) - len(raw.lstrip(" ")), key, (value.strip() or None) if value else None


def parse_simple_yaml(text: str) -> dict:
    """DLIO's config.yaml is a block mapping of plain scalars (Hydra writes it so). Read that subset
    by hand, about 20x faster than the YAML loader's constructors; anything else (lists, flow
    style, anchors, multi-line or ambiguous scalars) raises _NotSimple so PyYAML decides."""
    root: dict = {}
    stack = [[-1, root, None]]              # [parent key's indent, mapping, its keys' indent]
    pending = None                          # (indent, mapping, key) of a `key:` awaiting children
    for raw in text.splitlines():
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        indent, key, value = _key_line(raw)
        if pending is not None:
            p_indent, p_map, p_key = pending
            pending = None
            p_map[p_key] = {} if indent > p_indent else None
            if indent > p_indent:
                stack.append([p_indent, p_map[p_key], None])
        while indent <= stack[-1][0]:
            stack.pop()
        level = stack[-1]
        if level[2] is None:
            level[2] = indent
        elif level[2] != indent:
            raise _NotSimple                # keys of one mapping must line up
        if value is None:
            pending = (indent, level[1], key)
        else:
            level[1][key] = _scalar(value)
    if pending is not None:
        pending[1][pending[2]] = None
    return root


def parse_config(text: str, rel: str, problems: list):
    try:
        data = parse_simple_yaml(text)
    except _NotSimple:
        data = None
    if data is None:
        ok, data = _load_yaml(text, rel, problems)
        if not ok:
            return None
    elif not _shape_ok(data, rel, problems):         # hand-parsed: only the depth can be wrong
        return None
    if not isinstance(data, dict):
        problems.append(Problem("unparsable", rel, "expected a YAML mapping"))
        return None
    inner = data.get("workload")
    return inner if isinstance(inner, dict) else data
