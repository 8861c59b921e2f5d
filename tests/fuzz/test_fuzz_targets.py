"""Property-based fuzzing in the suite, a few hundred examples per target: JSON
loading, the results reader and verifier on edited trees, and the run-metadata loader. Only the
documented UserError may escape. The long run is benchmarks/bench_fuzz.py (same targets)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import (
    CHANGES,
    EDITS,
    JSON_INPUT,
    PAYLOADS,
    TEMPLATES,
    TreeTarget,
    check_parse_json,
    check_update_metadata,
)

SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


@settings(max_examples=300, deadline=None)
@given(data=JSON_INPUT)
def test_parse_json_returns_shallow_json_or_a_read_error(data):
    check_parse_json(data)


@pytest.fixture(scope="module")
def tree_target():
    target = TreeTarget()
    yield target
    target.close()


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(template=st.sampled_from(TEMPLATES), edits=EDITS)
def test_reader_and_verifier_survive_edited_trees(tree_target, template, edits):
    tree_target(template, edits)


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW_OK)
@given(existing=st.none() | PAYLOADS, changes=CHANGES)
def test_metadata_loader_merges_or_refuses(tmp_path, existing, changes):
    check_update_metadata(tmp_path, existing, changes)
