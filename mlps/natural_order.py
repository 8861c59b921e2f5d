"""Natural order of names: node2 before node10, run_9 before run_10.

One home for the key, so host names sort the same way in the report's tables and charts, the
verifier's findings and the series listings. Digit runs compare as numbers; text compares without
case first (hostnames are case-insensitive), then as written so the order stays total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_DIGITS = re.compile(r"(\d+)")


def natural_key(name) -> tuple:
    """Sort key of `name` (any value; compared as its text). re.split puts text at even and digit
    runs at odd positions, so two keys always compare text with text and number with number. A
    number is (its length without leading zeros, its digits): the order of int() without its cost
    or its limit on a hostile name of thousands of digits."""
    text = str(name)
    parts = _DIGITS.split(text)
    return (tuple(_number(p) if i % 2 else p.lower() for i, p in enumerate(parts)), text)


def _number(digits: str) -> tuple:
    significant = digits.lstrip("0")
    return (len(significant), significant)


def natural_sorted(items: Iterable, key: Callable | None = None) -> list:
    """`items` in natural order of their text, or of key(item) when given."""
    if key is None:
        return sorted(items, key=natural_key)
    return sorted(items, key=lambda item: natural_key(key(item)))


def natural_items(mapping) -> list:
    """(key, value) pairs of `mapping` in natural order of the keys (hosts -> their data)."""
    return natural_sorted(mapping.items(), key=lambda item: item[0])
