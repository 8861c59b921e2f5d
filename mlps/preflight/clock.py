"""Clock skew: each client's offset from the controller, its uncertainty, and the spread between clients."""

from __future__ import annotations

from dataclasses import dataclass

from mlps.preflight.checks import CLUSTER, Check, _row
from mlps.preflight.fixes import os_command


@dataclass(frozen=True)
class ClockReading:
    """A host's clock read between two controller clock readings (Unix seconds)."""

    host_time: float
    before: float
    after: float

    @property
    def offset(self) -> float:
        """Host clock minus the controller's at the middle of the call."""
        return self.host_time - (self.before + self.after) / 2

    @property
    def uncertainty(self) -> float:
        """Half the round trip: the host read its clock somewhere inside it."""
        return max(0.0, (self.after - self.before) / 2)


def skew_lower_bound(readings: dict[str, ClockReading]) -> tuple[float, float]:
    """(estimated spread, smallest spread consistent with the uncertainties) between the hosts."""
    if len(readings) < 2:
        return 0.0, 0.0
    offsets = [r.offset for r in readings.values()]
    high = max(r.offset - r.uncertainty for r in readings.values())
    low = min(r.offset + r.uncertainty for r in readings.values())
    return max(offsets) - min(offsets), max(0.0, high - low)


def clock_rows(readings: dict[str, ClockReading], families: dict[str, str | None], limit: float) -> list[Check]:
    rows = []
    for host, reading in readings.items():
        beyond = abs(reading.offset) - reading.uncertainty
        rows.append(_row("clock_skew", host, beyond <= limit, f"|offset to the controller| <= {limit:g} s",
                         f"{reading.offset:+.3f} s (+/- {reading.uncertainty:.3f} s)",
                         "" if beyond <= limit else f"the clock of {host} is {reading.offset:+.3f} s off the "
                         f"controller's (at least {beyond:.3f} s beyond the measurement's uncertainty)",
                         "" if beyond <= limit else os_command("chrony", families.get(host))))
    if len(readings) >= 2:
        spread, bound = skew_lower_bound(readings)
        ok = bound <= limit
        worst = max(readings, key=lambda h: abs(readings[h].offset))
        rows.append(_row("clock_skew", CLUSTER, ok, f"spread between clients <= {limit:g} s",
                         f"{spread:.3f} s (at least {bound:.3f} s)",
                         "" if ok else f"client clocks disagree by {spread:.3f} s; furthest off: {worst}",
                         "" if ok else f"on every client: {os_command('chrony', None)}"))
    return rows
