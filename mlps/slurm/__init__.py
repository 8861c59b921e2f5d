"""Slurm: campaigns as batch jobs on an allocation."""
