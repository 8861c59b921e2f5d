"""Each kind of hostile tree (tests/fuzz/hostile_trees.py) once through `mlps verify` and `mlps
report` as separate processes under 10 s and 500 MB: a verdict or a documented error code, nothing
read or written outside the tree. The long run (benchmarks/bench_fuzz.py) varies the seeds."""

from __future__ import annotations

import pytest

from tests.fuzz.hostile_trees import KINDS, HostileTrees


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    trees = HostileTrees(tmp_path_factory.mktemp("hostile"))
    yield trees
    trees.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_hostile_tree_ends_with_a_verdict_or_a_documented_error(hostile, kind):
    hostile(kind, seed=20260105, full=False)
