"""What every mlps module does with the parameter problems its argument spec cannot see: collect
them all, then fail once naming every one. Pure stdlib, Python 3.8 syntax: runs in modules."""

from __future__ import annotations


def fail_on_problems(module, problems) -> None:
    """Fail the module with every problem on one line; return when there is none."""
    if problems:
        module.fail_json(msg="; ".join(problems))
