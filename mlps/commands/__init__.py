"""Subcommands of `mlps`; each module exposes register(subparsers)."""
