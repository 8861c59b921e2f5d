"""Shared pytest setup: the multi-host cluster fixtures (tests/cluster/fixtures.py) and the client
venvs installed by playbooks/setup.yml (tests/venvs.py), for tests/integration and tests/faults.

`make test` runs the suite on two pytest-xdist workers (--dist loadgroup). A module's tests stay on
one worker (its module fixtures are built once); a module that shares something machine-wide with
another (one embedded Milvus per host, FUSE mounts) names a common `xdist_group`; a test that changes
what every other test uses (the client venv) is marked `serial` and runs after the others, alone."""

import pytest

pytest_plugins = ["tests.cluster.fixtures", "tests.venvs"]


LONGEST_GROUP = "milvus"  # about a quarter of the suite on one worker: it must not start last


def _group(item) -> str:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return ""
    return marker.args[0] if marker.args else marker.kwargs.get("name", "")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    # xdist hands out groups in collection order: the longest first, then the other integration and
    # fault groups, the many short unit groups last to fill the gaps (longest-first scheduling)
    items.sort(key=lambda item: (_group(item) != LONGEST_GROUP, "/unit/" in item.nodeid or "/fuzz/" in item.nodeid))
