"""Every module file's DOCUMENTATION, RETURN and EXAMPLES parse as ansible-doc reads them, and its
options are the argument_spec it documents: the module's own, or for an action documented by a
library/ file, the action plugin's ARGUMENT_SPEC."""

from __future__ import annotations

import pytest
import yaml

from tests import adhoc


@pytest.mark.parametrize("module", adhoc.module_files(), ids=lambda path: str(path.relative_to(adhoc.ROOT)))
def test_documentation_matches_argument_spec(module):
    source, spec = adhoc.argument_spec(module)
    literals = adhoc.module_literals(module)
    doc = adhoc.documentation(module)
    assert doc["module"] == module.stem
    assert adhoc.option_mismatches(doc.get("options") or {}, spec) == [], source
    assert adhoc.return_mismatches(yaml.safe_load(literals["RETURN"])) == []
    assert isinstance(yaml.safe_load(literals["EXAMPLES"]), list)
    # The documented check-mode support is the one the code declares (a module that writes in check
    # mode must declare none, or return before writing).
    documented = doc["attributes"]["check_mode"]["support"]
    assert documented in ("full", "partial", "none")
    assert (documented != "none") == adhoc.supports_check_mode(source), source


def test_a_comma_in_a_flow_mapping_is_caught():
    """The slip this test exists for: an unquoted comma splits a description into a junk key."""
    options = yaml.safe_load("hosts: {description: Clients, launcher first., type: list, elements: str}")
    spec = {"hosts": {"type": "list", "elements": "str"}}
    assert adhoc.option_mismatches(options, spec) == ["hosts: unknown key 'launcher first.'"]
    nested = {"mpi": {"description": "x", "type": "dict", "suboptions": {"np": {"description": "y", "type": "str"}}}}
    assert adhoc.option_mismatches(nested, {"mpi": {"type": "dict", "options": {"np": {"type": "int"}}}}) == [
        "mpi.np: type documented 'str', argument_spec 'int'"]
