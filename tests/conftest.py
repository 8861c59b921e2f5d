"""Shared pytest setup: the multi-host cluster fixtures (tests/cluster/fixtures.py) and the client
venvs installed by playbooks/setup.yml (tests/venvs.py), for tests/integration and tests/faults."""

pytest_plugins = ["tests.cluster.fixtures", "tests.venvs"]
