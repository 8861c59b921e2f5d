"""Shared pytest setup: the multi-host cluster fixtures live in tests/cluster/fixtures.py."""

pytest_plugins = ["tests.cluster.fixtures"]
