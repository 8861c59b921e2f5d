"""Module-test scaffolding: run one mlps module for real with `ansible localhost -m ...` and read its JSON
result; read a module file's DOCUMENTATION and the argument_spec it documents."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_module(module: str, module_args: dict, *extra: str, env: dict | None = None,
               prefix: tuple = ()) -> tuple[str, dict, str]:
    """(status word such as SUCCESS or FAILED!, result, stderr) of one ad-hoc run on localhost; env adds
    variables (HOME, ANSIBLE_LOCAL_TEMP...), prefix runs `ansible` under another command (setpriv)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **(env or {})}
    proc = subprocess.run(
        [*prefix, str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"),
         "-m", module, *(["-a", json.dumps(module_args)] if module_args else []), *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=180)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep, f"no result in ansible output:\n{proc.stdout}\n{proc.stderr}"
    return head.split("|")[-1].strip(), json.loads(body), proc.stderr


# -- module documentation ------------------------------------------------------------------------

# Keys ansible-doc knows for one option; anything else in DOCUMENTATION is a YAML slip (a comma in a
# flow mapping turns the rest of a description into keys of their own).
OPTION_KEYS = frozenset({"description", "type", "required", "default", "choices", "elements", "suboptions",
                         "aliases", "version_added", "no_log"})
_SPEC_KEYS = ("type", "required", "default", "choices", "elements")


def module_files() -> list[Path]:
    """Every Ansible module file (all of them live in library/)."""
    return sorted(ROOT.glob("library/*.py"))


def module_literals(path: Path) -> dict:
    """Top-level constant assignments, plus an inline `argument_spec=` of the AnsibleModule call."""
    found = {}
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("argument_spec", "supports_check_mode"):
                    with contextlib.suppress(ValueError):              # a name such as ARGUMENT_SPEC
                        found[keyword.arg] = ast.literal_eval(keyword.value)
    return found


def _load(path: Path):
    """Import a module or action plugin file; its `ansible.module_utils.mlps_*` imports resolve to the
    package built from module_utils/, as Ansible's module packer does on a host."""
    for util in sorted((ROOT / "module_utils").glob("mlps_*.py")):
        name = f"ansible.module_utils.{util.stem}"
        if name not in sys.modules:
            sys.modules[name] = importlib.import_module(f"mlps_module_utils.{util.stem}")
    spec = importlib.util.spec_from_file_location(f"_mlps_doc_{path.parent.parent.name}_{path.stem}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def action_plugin_for(module: Path) -> Path | None:
    """The action plugin of the same name a module file documents (all of them live in action_plugins/)."""
    path = ROOT / "action_plugins" / module.name
    return path if path.is_file() else None


def argument_spec(module: Path) -> tuple[Path, dict]:
    """(the file that holds it, the argument_spec) of what a module file documents."""
    plugin = action_plugin_for(module)
    # a module with its own AnsibleModule call holds its spec (its action plugin only fills in values)
    source = module if plugin is None or "AnsibleModule(" in module.read_text() else plugin
    inline = module_literals(source).get("argument_spec")
    if isinstance(inline, dict):
        return source, inline
    # A constant may be computed (choices from a tuple): take it from the loaded file; none = no options.
    return source, getattr(_load(source), "ARGUMENT_SPEC", {})


def documentation(module: Path) -> dict:
    """DOCUMENTATION of a module file, parsed as ansible-doc parses it (YAML), with the options of the
    documentation fragments it extends (doc_fragments/) merged in."""
    doc = yaml.safe_load(module_literals(module)["DOCUMENTATION"])
    for name in doc.get("extends_documentation_fragment") or []:
        fragment = yaml.safe_load(_load(ROOT / "doc_fragments" / f"{name}.py").ModuleDocFragment.DOCUMENTATION)
        doc["options"] = {**(fragment.get("options") or {}), **(doc.get("options") or {})}
    return doc


def option_mismatches(options: dict, spec: dict, where: str = "") -> list[str]:
    """Every way documented options differ from an argument_spec: names, unknown keys, type, required,
    default, choices, elements, and nested options (documented as `suboptions`)."""
    problems = []
    for name in sorted(set(options) - set(spec)):
        problems.append(f"{where}{name}: documented but not in argument_spec")
    for name in sorted(set(spec) - set(options)):
        problems.append(f"{where}{name}: in argument_spec but not documented")
    for name in sorted(set(options) & set(spec)):
        doc, rules = options[name], spec[name]
        if not isinstance(doc, dict):
            problems.append(f"{where}{name}: documented as {doc!r}, not as a mapping of option keys")
            continue
        problems += [f"{where}{name}: unknown key {key!r}" for key in sorted(set(doc) - OPTION_KEYS)]
        for key in _SPEC_KEYS:
            empty = False if key == "required" else None
            if doc.get(key, empty) != rules.get(key, empty):
                problems.append(f"{where}{name}: {key} documented {doc.get(key, empty)!r}, "
                                f"argument_spec {rules.get(key, empty)!r}")
        if "options" in rules or "suboptions" in doc:
            problems += option_mismatches(doc.get("suboptions") or {}, rules.get("options") or {}, f"{where}{name}.")
    return problems


RETURN_KEYS = frozenset({"description", "returned", "type", "elements", "sample", "contains", "version_added"})


def return_mismatches(values: dict, where: str = "") -> list[str]:
    """Keys of RETURN values ansible-doc does not know, nested `contains` too."""
    problems = []
    for name, doc in (values or {}).items():
        if not isinstance(doc, dict):
            problems.append(f"{where}{name}: documented as {doc!r}, not as a mapping of return keys")
            continue
        problems += [f"{where}{name}: unknown key {key!r}" for key in sorted(set(doc) - RETURN_KEYS)]
        if isinstance(doc.get("contains"), dict):
            problems += return_mismatches(doc["contains"], f"{where}{name}.")
    return problems


def supports_check_mode(source: Path) -> bool:
    """What the code declares: AnsibleModule(supports_check_mode=...) or an action's _supports_check_mode."""
    literals = module_literals(source)
    if "supports_check_mode" in literals:
        return literals["supports_check_mode"]
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_supports_check_mode":
            return ast.literal_eval(node.value)
    for node in ast.walk(ast.parse(source.read_text())):           # our base, mlps.plugins.action, says yes
        if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "MlpsAction" for b in node.bases):
            return True
    return False                                   # both defaults: AnsibleModule and ActionBase say no
