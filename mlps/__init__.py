"""mlps: the MLPerf Storage rule book, results reader, planner and CLI (no Ansible imports)."""

__version__ = "0.1.0"
