"""Fail-fast preflight: turn what the mlps_preflight role gathered into one stable list of checks.

The role only gathers (argument-spec validation, a clock reading, one probe per client, one mpirun
across all clients, a shared-filesystem sentinel); everything that decides pass or fail lives
here, so it is unit-tested without Ansible:

- checks.py    the stable order of the checks, what each asks, its severity, the row type
- settings.py  the inventory values and the problems argument specs cannot see
- fixes.py     the fix for each host's OS (apt, dnf, zypper)
- capacity.py  the bytes the campaign will write (measured memory or the checkpoint plan)
- clock.py     clock-skew arithmetic
- rows.py      one row per client or per cluster from what was gathered
- build.py     everything gathered -> the list of checks
- report.py    preflight.json (mlps-preflight/1), the table, the summary line

A check row: name, host, ok (True, False, or None when it could not run), severity (error or
warning), expected, found, detail, fix. Only an error row with ok False fails the preflight.
"""

from mlps.preflight.build import Gathered, build_checks
from mlps.preflight.capacity import Plan, client_memory, plan_bytes
from mlps.preflight.checks import CHECKS, CLUSTER, GIB, SCHEMA, Check
from mlps.preflight.clock import ClockReading, clock_rows, skew_lower_bound
from mlps.preflight.fixes import os_command, os_family, setup_fix
from mlps.preflight.report import render_table, report_document, summary_line, write_report
from mlps.preflight.rows import spec_errors
from mlps.preflight.settings import Settings, input_problems, ranks_per_host, value_problems

__all__ = [
    "CHECKS", "CLUSTER", "GIB", "SCHEMA", "Check", "ClockReading", "Gathered", "Plan", "Settings", "build_checks",
    "client_memory", "clock_rows", "input_problems", "os_command", "os_family", "plan_bytes", "ranks_per_host",
    "render_table", "report_document", "setup_fix", "skew_lower_bound", "spec_errors", "summary_line",
    "value_problems", "write_report",
]
