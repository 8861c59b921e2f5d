"""The fully merged DLIO workload configuration of a campaign: the template under configs/dlio with
every `++workload.<key>=<value>` override applied, the way Hydra composes it for DLIO.

Shown before anything runs (`mlps configview`, and the campaign's configview step) so a user sees
exactly which values DLIO will get, including the campaign's own keys and test-only overrides.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from mlps.errors import UserError
from mlps.rulebook.workloads import DLIO_CONFIG_DIR


def template(workload: str, config_dir=DLIO_CONFIG_DIR) -> dict:
    path = Path(config_dir) / "workload" / f"{workload}.yaml"
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"workload {workload!r}: no template {path} ({exc.strerror}); see configs/dlio/workload/ "
                        "for the names") from exc
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a YAML mapping of DLIO settings")
    return document


def _typed(text):
    """An override's text as Hydra reads it: numbers, booleans and null become those types."""
    if not isinstance(text, str):
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float) or value is None else text


def merged(workload: str, overrides: dict, config_dir=DLIO_CONFIG_DIR) -> dict:
    """The template with the dotted overrides applied (a new dict; the template is not changed)."""
    config = copy.deepcopy(template(workload, config_dir))
    for key, text in overrides.items():
        *parents, leaf = str(key).split(".")
        node = config
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = _typed(text)
    return config


def render(workload: str, overrides: dict, config_dir=DLIO_CONFIG_DIR) -> str:
    """YAML text of the merged configuration, under the `workload:` key DLIO reads it from."""
    return yaml.safe_dump({"workload": merged(workload, overrides, config_dir)}, sort_keys=False,
                          default_flow_style=False)
