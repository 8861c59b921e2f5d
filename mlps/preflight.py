"""Fail-fast preflight: turn what the mlps_preflight role gathered into one stable list of checks.

The role only gathers (argument-spec validation, a clock reading, one probe per client, one mpirun
across all clients, a shared-filesystem sentinel); everything that decides pass or fail, the fix
for each host's OS, the clock-skew arithmetic, the capacity plan, the table and `preflight.json`
(`mlps-preflight/1`) lives here, so it is unit-tested without Ansible.

A check row: name, host, ok (True, False, or None when it could not run), severity (error or
warning), expected, found, detail, fix. Only an error row with ok False fails the preflight.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlps import inputs
from mlps.campaign import checkpointing
from mlps.errors import UserError
from mlps.jsonio import write_json_atomic
from mlps.plan import datasize
from mlps.rulebook.workloads import (
    ACCELERATOR_MEMORY_GB,
    get_checkpoint_model,
    get_training_workload,
)
from mlps_module_utils.mlps_mpirun import placement
from mlps_module_utils.mlps_venv import MARKER_SCHEMA, identify_mpi

SCHEMA = "mlps-preflight/1"
GIB = 2**30
ERROR, WARNING = "error", "warning"
BENCHMARKS = ("training", "checkpointing")
DIVISIONS = ("closed", "open")
CLUSTER = "all clients"      # host of the rows about the clients together
CONTROLLER = "controller"    # host of the rows about the controller's results directory
CLOCK_WARN_SECONDS = 1.0
NOT_RUN_UNREACHABLE = "not run: the host is unreachable"

# The stable order of the checks (and the names preflight.json uses), with what each asks.
CHECKS: dict[str, str] = {
    "inventory_types": "inventory values have the types every role's argument spec declares",
    "inventory_values": "benchmark, model, accelerator, accelerators per host and division are ones the rules know",
    "reachable": "Ansible reaches the client over SSH",
    "python": "the client runs Python for Ansible's modules",
    "venv": "the client venv exists and its ready marker is valid",
    "dlio_import": "DLIO and mpi4py import in the client venv",
    "checkpoint_engine": "checkpointing: the launcher's DLIO has the checkpoint-only workload the chosen engine needs",
    "mpirun_present": "the launcher mpirun exists and answers --version",
    "mpi_match": "mpirun and mpi4py's MPI library are the configured implementation",
    "mpirun_launch": "one mpirun across all clients starts a rank on every client",
    "clock_skew": "client clocks agree with the controller and with each other",
    "data_capacity": "the data filesystem (checkpointing: the checkpoint folder's) has room for the planned bytes",
    "results_capacity": "the results filesystem has room for the results tree",
    "data_shared": "multi-host: every client sees the launcher's sentinel in one shared data directory",
    "fs_separation": "data and results directories are on different filesystems",
    "host_memory": "host memory covers 0.5 GiB per simulated accelerator (SYS-HOST-RAM-PER-ACCEL)",
}
SEVERITY = {name: (WARNING if name == "clock_skew" else ERROR) for name in CHECKS}
CHECKPOINT_ONLY = ("checkpoint_engine",)


@dataclass
class Check:
    name: str
    host: str
    ok: bool | None
    severity: str
    expected: str = ""
    found: str = ""
    detail: str = ""
    fix: str = ""

    @property
    def status(self) -> str:
        if self.ok is None:
            return "SKIP"
        if self.ok:
            return "PASS"
        return "FAIL" if self.severity == ERROR else "WARN"

    @property
    def failed(self) -> bool:
        return self.ok is False and self.severity == ERROR

    def to_dict(self) -> dict:
        return asdict(self)


def _row(name: str, host: str, ok: bool | None, expected="", found="", detail="", fix="") -> Check:
    return Check(name=name, host=host, ok=ok, severity=SEVERITY[name], expected=str(expected),
                 found=str(found), detail=detail, fix=fix)


# ---------------------------------------------------------------------------------------------
# OS families and copy-paste fixes

_FAMILIES = {
    "debian": ("debian", "ubuntu", "linuxmint", "raspbian", "pop"),
    "rhel": ("rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn", "scientific"),
    "suse": ("suse", "sles", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sle_hpc"),
}
FAMILY_LABELS = {"debian": "Debian/Ubuntu", "rhel": "RHEL-family", "suse": "SUSE"}


def os_family(os_release: dict | None) -> str | None:
    """debian, rhel or suse from os-release ID, then ID_LIKE; None when unknown."""
    release = os_release or {}
    ids = [str(release.get("ID") or "").lower(), *str(release.get("ID_LIKE") or "").lower().split()]
    for name in ids:
        for family, members in _FAMILIES.items():
            if name in members or family in name:
                return family
    return None


# Per OS family: the command that installs or starts what a check needs.
_OS_COMMANDS: dict[str, dict[str, str]] = {
    "python": {"debian": "apt-get install -y python3 python3-venv", "rhel": "dnf install -y python3",
               "suse": "zypper install -y python3"},
    "sshd": {"debian": "apt-get install -y openssh-server && systemctl enable --now ssh",
             "rhel": "dnf install -y openssh-server && systemctl enable --now sshd",
             "suse": "zypper install -y openssh-server && systemctl enable --now sshd"},
    "chrony": {"debian": "apt-get install -y chrony && systemctl enable --now chrony && chronyc makestep",
               "rhel": "dnf install -y chrony && systemctl enable --now chronyd && chronyc makestep",
               "suse": "zypper install -y chrony && systemctl enable --now chronyd && chronyc makestep"},
    "nfs": {"debian": "apt-get install -y nfs-common && mount -t nfs SERVER:/EXPORT {path}",
            "rhel": "dnf install -y nfs-utils && mount -t nfs SERVER:/EXPORT {path}",
            "suse": "zypper install -y nfs-client && mount -t nfs SERVER:/EXPORT {path}"},
    "openmpi": {"debian": "apt-get install -y openmpi-bin libopenmpi-dev",
                "rhel": "dnf install -y openmpi openmpi-devel",
                "suse": "zypper install -y openmpi4 openmpi4-devel"},
    "mpich": {"debian": "apt-get install -y mpich libmpich-dev", "rhel": "dnf install -y mpich mpich-devel",
              "suse": "zypper install -y mpich mpich-devel"},
}


def os_command(what: str, family: str | None, **fmt: str) -> str:
    """The command for this OS family; every family's, labelled, when the family is unknown."""
    commands = _OS_COMMANDS[what]
    if family in commands:
        return commands[family].format(**fmt)
    return "; ".join(f"{FAMILY_LABELS[f]}: {cmd.format(**fmt)}" for f, cmd in commands.items())


def setup_fix(host: str, force: bool = False) -> str:
    """Reinstall the client venv on one host with the setup playbook."""
    extra = " -e mlps_env_force=true" if force else ""
    return f"ansible-playbook -i <inventory> playbooks/setup.yml --limit {host}{extra}"


# ---------------------------------------------------------------------------------------------
# Inventory values (what argument specs cannot say)


def _whole(value, name: str, minimum: int) -> tuple[int | None, str | None]:
    """A whole number >= minimum from an int or a digit string; (None, problem) otherwise."""
    if isinstance(value, bool):
        return None, f"{name}={value!r}: expected a whole number >= {minimum}"
    try:
        number = int(str(value).strip())
    except ValueError:
        return None, f"{name}={value!r}: expected a whole number >= {minimum}"
    if number < minimum:
        return None, f"{name}={number}: expected a whole number >= {minimum}"
    return number, None


@dataclass(frozen=True)
class Settings:
    """One host's view of the campaign settings (inventory and -e values, already templated)."""

    benchmark: str = "training"
    model: str = "unet3d"
    accelerator: str = "h100"
    accelerators_per_host: object = 1
    division: str = "closed"
    num_files_train: object = 0
    checkpoint_processes: object = 0
    checkpoint_writes: object = 10
    checkpoint_scale: object = 1.0
    checkpoint_subset: object = False
    checkpoint_engine: str = "auto"
    checkpoint_folder: str = ""
    data_bytes: object = 0
    results_bytes: object = GIB
    mpi: str = "openmpi"
    mpirun: str = ""
    venv: str = ""
    data_dir: str = ""
    results_dir: str = ""
    clock_warn_seconds: float = CLOCK_WARN_SECONDS

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def input_problems(values_by_host: dict) -> list[str]:
    """Hostile names, paths and DLIO values of every host (mlps.inputs), one line each. The role
    checks these first and stops before writing anything: such a value is unsafe to probe with."""
    return inputs.inventory_problems(values_by_host)


def value_problems(s: Settings) -> list[str]:
    """Every inventory value the rules cannot run with, one line each (empty when all are fine)."""
    problems = [p for p in (
        *(inputs.check_path(name, value) for name, value in (("mlps_data_dir", s.data_dir),
                                                             ("mlps_results_dir", s.results_dir),
                                                             ("mlps_venv", s.venv),
                                                             ("mlps_checkpointing_folder", s.checkpoint_folder))
          if value),
        *(inputs.check_plain_name(name, str(value)) for name, value in (("model", s.model),
                                                                        ("accelerator", s.accelerator)) if value),
    ) if p]
    if problems:  # unsafe values: the rules below would only repeat them
        return problems
    if s.benchmark not in BENCHMARKS:
        problems.append(f"mlps_preflight_benchmark={s.benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    if str(s.division) not in DIVISIONS:
        problems.append(f"division={s.division!r}: expected closed or open")
    if s.benchmark == "checkpointing":
        try:
            get_checkpoint_model(s.model)
        except UserError as exc:
            problems.append(str(exc))
        if str(s.accelerator).lower() not in ACCELERATOR_MEMORY_GB:
            problems.append(f"accelerator {s.accelerator!r}: expected one of {', '.join(ACCELERATOR_MEMORY_GB)}")
        problems += [p for p in (_whole(s.checkpoint_processes, "checkpoint processes", 0)[1],
                                 _whole(s.checkpoint_writes, "checkpoint writes", 0)[1]) if p]
        problems += _checkpoint_problems(s) if not problems else []
    else:
        try:
            get_training_workload(s.model, s.accelerator)
        except UserError as exc:
            problems.append(str(exc))
        problem = _whole(s.accelerators_per_host, "accelerators per host", 1)[1]
        if problem:
            problems.append(problem)
        problem = _whole(s.num_files_train, "num_files_train", 0)[1]
        if problem:
            problems.append(problem)
    return problems


def _flag(value) -> bool | None:
    """A yes/no inventory value (bool, or its text as -e gives it); None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "yes", "1", "on") else False if text in ("false", "no", "0", "off", "") else None


def _checkpoint_problems(s: Settings) -> list[str]:
    """Engine, scale and subset settings, and a shard plan that cannot be made (the numbers say why)."""
    problems = []
    if s.checkpoint_engine not in checkpointing.ENGINE_CHOICES:
        problems.append(f"mlps_checkpointing_engine={s.checkpoint_engine!r}: expected one of "
                        f"{', '.join(checkpointing.ENGINE_CHOICES)}")
    if _flag(s.checkpoint_subset) is None:
        problems.append(f"mlps_checkpointing_subset={s.checkpoint_subset!r}: expected true or false")
    try:
        scale = float(s.checkpoint_scale)
    except (TypeError, ValueError):
        scale = None
    if s.checkpoint_engine == "dlio" and scale is not None and scale != 1:
        problems.append(f"mlps_checkpointing_scale={s.checkpoint_scale}: DLIO has no size scale; set "
                        "mlps_checkpointing_engine=native (or auto), or scale 1")
    if problems:
        return problems
    try:
        _checkpoint_bytes(s)
    except UserError as exc:
        problems.append(str(exc))
    return problems


def _checkpoint_bytes(s: Settings) -> int:
    """What the campaign writes to the checkpoint folder: the shard plan's bytes x writes."""
    return checkpointing.preflight_bytes(s.model, s.checkpoint_processes, scale=s.checkpoint_scale,
                                         subset=bool(_flag(s.checkpoint_subset)), writes=s.checkpoint_writes)


def ranks_per_host(s: Settings, hosts: list[str]) -> dict[str, int] | None:
    """Simulated accelerators (ranks) on each host; None when the settings cannot say."""
    if s.benchmark == "checkpointing":
        try:
            model = get_checkpoint_model(s.model)
        except UserError:
            return None
        processes = _whole(s.checkpoint_processes, "", 0)[0]
        if processes is None:
            return None
        processes = processes or model.closed_processes
        counts = dict(placement(processes, hosts)) if hosts else {}
        return {host: counts.get(host, 0) for host in hosts}
    per_host = _whole(s.accelerators_per_host, "", 1)[0]
    return None if per_host is None else dict.fromkeys(hosts, per_host)


# ---------------------------------------------------------------------------------------------
# Capacity plan


@dataclass(frozen=True)
class Plan:
    data_bytes: int | None          # bytes the data filesystem must hold; None when unknown
    source: str                     # how data_bytes was found
    notes: tuple[str, ...] = ()
    checkpoint: bool = False        # the bytes land in the checkpoint folder

    def to_dict(self) -> dict:
        return {"data_bytes": self.data_bytes, "source": self.source, "notes": list(self.notes)}


def client_memory(memory_by_host: dict[str, tuple[str | None, int | None]]) -> tuple[int, list[str]]:
    """MemTotal summed once per machine (hosts sharing a machine_id are one machine, as in
    mlps.cluster); also the hosts whose memory is unknown."""
    seen, total, unknown = set(), 0, []
    for host, (machine_id, memory) in memory_by_host.items():
        if not memory:
            unknown.append(host)
            continue
        key = machine_id or f"host:{host}"
        if key not in seen:
            seen.add(key)
            total += int(memory)
    return total, unknown


def plan_bytes(s: Settings, num_hosts: int, memory: int, unknown_memory: list[str]) -> Plan:
    """Bytes the data filesystem must hold for this campaign, and how they were found."""
    override = _whole(s.data_bytes, "", 0)[0]
    if override:
        return Plan(override, "mlps_preflight_data_bytes")
    if s.benchmark == "checkpointing":
        try:
            get_checkpoint_model(s.model)
        except UserError:
            return Plan(None, "unknown: the checkpointing model is invalid (see inventory_values)")
        if _whole(s.checkpoint_processes, "", 0)[0] is None or _whole(s.checkpoint_writes, "", 0)[0] is None:
            return Plan(None, "unknown: the checkpoint counts are invalid (see inventory_values)")
        return _checkpoint_plan(s)
    return _training_plan(s, num_hosts, memory, unknown_memory)


def _training_plan(s: Settings, num_hosts: int, memory: int, unknown_memory: list[str]) -> Plan:
    try:
        workload = get_training_workload(s.model, s.accelerator)
    except UserError:
        return Plan(None, "unknown: the model/accelerator pair is invalid (see inventory_values)")
    files = _whole(s.num_files_train, "", 0)[0]
    if files:
        return Plan(datasize.total_disk_bytes(files, workload), f"num_files_train={files} x record length")
    if _whole(s.accelerators_per_host, "", 1)[0] is None:
        return Plan(None, "unknown: accelerators per host is invalid (see inventory_values)")
    if not memory:
        return Plan(None, "unknown: no client reported its memory")
    accelerators = _whole(s.accelerators_per_host, "", 1)[0] * num_hosts
    planned = datasize.plan_datasize(workload, memory, accelerators)
    notes = ()
    if unknown_memory:
        notes = (f"memory of {', '.join(unknown_memory)} unknown: the plan is a lower bound",)
    return Plan(planned.total_disk_bytes, f"datasize plan: {planned.num_files_train} files for "
                f"{memory / GIB:.1f} GiB of client memory and {accelerators} accelerators", notes)


def _checkpoint_plan(s: Settings) -> Plan:
    """The bytes the checkpoint folder must hold, from the shard planner (mlps.plan.checkpoint)
    with the campaign's scale and subset mode (checkpointing.preflight_bytes)."""
    model = get_checkpoint_model(s.model)
    processes = _whole(s.checkpoint_processes, "", 0)[0] or model.closed_processes
    writes = _whole(s.checkpoint_writes, "", 0)[0]
    try:
        needed = _checkpoint_bytes(s)
    except UserError as exc:
        return Plan(None, f"unknown: {exc}")
    subset = " subset mode," if _flag(s.checkpoint_subset) else ""
    per_checkpoint = needed // writes if writes else 0
    source = f"{model.name} shard plan, {processes} ranks,{subset} scale {float(s.checkpoint_scale):g}: "
    return Plan(needed, checkpoint=True, source=source +
                f"{_gib(per_checkpoint)} x {writes} writes in {s.checkpoint_folder or s.data_dir}")


# ---------------------------------------------------------------------------------------------
# Clock skew


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


# ---------------------------------------------------------------------------------------------
# Assembling every check


def _text(value, limit: int = 200) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unreachable(result) -> bool:
    return isinstance(result, dict) and bool(result.get("unreachable"))


def _marker_problem(marker, marker_error) -> str | None:
    if marker_error:
        return marker_error
    if not isinstance(marker, dict):
        return "no ready marker"
    if marker.get("schema") != MARKER_SCHEMA:
        return f"marker schema is {marker.get('schema')!r}, expected {MARKER_SCHEMA!r}"
    missing = [k for k in ("key", "mpi", "mpirun", "mpi_library") if not marker.get(k)]
    return f"marker lacks {', '.join(missing)}" if missing else None


def _host_rows(host: str, s: Settings, probe: dict, family: str | None) -> list[Check]:
    """python, venv, dlio_import, mpirun_present, mpi_match for one reachable host."""
    if probe.get("failed") or "venv" not in probe:
        why = _text(probe.get("msg") or probe.get("module_stderr") or "the probe module failed")
        return [_row("python", host, False, "a Python 3 for Ansible modules", "none that runs the probe", why,
                     f"{os_command('python', family)} (or set ansible_python_interpreter for {host})"),
                *(_row(name, host, None, detail="not run: the probe needs Python on the host")
                  for name in ("venv", "dlio_import", "mpirun_present", "mpi_match"))]
    rows = [_row("python", host, True, "a Python 3 for Ansible modules", (probe.get("python") or {}).get("version"))]
    venv = probe["venv"]
    problem = None if venv.get("python_ok") else f"{venv.get('path')}/bin/python is missing or not executable"
    problem = problem or _marker_problem(venv.get("marker"), venv.get("marker_error"))
    rows.append(_row("venv", host, problem is None, f"{venv.get('path')} with a valid ready marker",
                     "ready" if problem is None else "not ready",
                     "" if problem is None else f"venv {venv.get('path')} on {host}: {problem}",
                     "" if problem is None else setup_fix(host)))
    dlio = probe.get("dlio") or {}
    rows.append(_row("dlio_import", host, bool(dlio.get("ok")), f"import {dlio.get('module')} and mpi4py",
                     "imports" if dlio.get("ok") else "fails",
                     "" if dlio.get("ok") else f"{venv.get('path')}/bin/python on {host}: {_text(dlio.get('error'))}",
                     "" if dlio.get("ok") else setup_fix(host, force=True)))
    mpirun = probe.get("mpirun") or {}
    present = bool(mpirun.get("ok"))
    rows.append(_row("mpirun_present", host, present, f"{mpirun.get('path')} runs --version",
                     _text(mpirun.get("version_text"), 80) if present else _text(mpirun.get("error"), 80),
                     "" if present else f"mpirun {mpirun.get('path')} on {host}: {_text(mpirun.get('error'))}",
                     "" if present else _mpirun_fix(host, s, family)))
    rows.append(_mpi_match_row(host, s, probe, family))
    return rows


def _mpirun_fix(host: str, s: Settings, family: str | None) -> str:
    if s.mpirun and s.venv and s.mpirun != f"{s.venv}/bin/mpirun":
        return (f"point mlps_preflight_mpirun for {host} at the venv's launcher ({s.venv}/bin/mpirun), or "
                f"{setup_fix(host)}")
    packages = os_command(s.mpi if s.mpi in _OS_COMMANDS else "openmpi", family)
    return f"{setup_fix(host, force=True)} (system MPI: {packages})"


def _mpi_match_row(host: str, s: Settings, probe: dict, family: str | None) -> Check:
    marker = (probe.get("venv") or {}).get("marker") or {}
    seen = {
        "live mpirun --version": identify_mpi((probe.get("mpirun") or {}).get("version_text") or ""),
        "mpi4py's library (live)": identify_mpi((probe.get("dlio") or {}).get("mpi_library") or ""),
        "marker mpirun_version": identify_mpi(marker.get("mpirun_version") or "") if marker else None,
        "marker mpi_library": identify_mpi(marker.get("mpi_library") or "") if marker else None,
    }
    known = {k: v for k, v in seen.items() if v}
    if not known:
        return _row("mpi_match", host, None, s.mpi, detail="not run: neither mpirun nor mpi4py could be read")
    wrong = {k: v for k, v in known.items() if v != s.mpi}
    found = ", ".join(f"{k}: {v}" for k, v in known.items())
    if not wrong:
        return _row("mpi_match", host, True, f"{s.mpi} everywhere", s.mpi)
    return _row("mpi_match", host, False, f"{s.mpi} everywhere", found,
                f"MPI on {host} is not {s.mpi} throughout: " + ", ".join(f"{k} is {v}" for k, v in wrong.items()),
                f"{setup_fix(host, force=True)} (or set mlps_mpi to the implementation the venv has)")


def _launch_rows(hosts: list[str], reachable: list[str], launcher: str, launch: dict,
                 hostnames: dict[str, str]) -> list[Check]:
    expected = "a rank on this host prints its hostname"
    if launcher not in reachable:
        return [_row("mpirun_launch", h, False, expected, "not launched",
                     f"the launcher {launcher} is unreachable, so no mpirun could start",
                     f"make {launcher} reachable (see its reachable row) or set mlps_preflight_launcher")
                for h in hosts]
    if not launch or launch.get("skipped"):
        return [_row("mpirun_launch", h, None, expected, detail="not run: the launch was skipped") for h in hosts]
    answered = {line.strip() for line in str(launch.get("stdout") or "").splitlines() if line.strip()}
    error = _text(launch.get("msg") or launch.get("stderr"))
    rows = []
    for host in hosts:
        names = {host, hostnames.get(host) or host, (hostnames.get(host) or host).split(".")[0]}
        if answered & names:
            rows.append(_row("mpirun_launch", host, True, expected, "answered"))
            continue
        down = [h for h in hosts if h not in reachable]
        if host not in reachable:
            fix = f"make {host} reachable (see its reachable row), then run the preflight again"
        elif down:
            fix = f"make {', '.join(down)} reachable first: mpirun needs every client"
        elif host == launcher:
            fix = f"on {launcher}, run the mpirun command in preflight.json by hand and fix what it says"
        else:
            fix = (f"on {launcher}, `ssh {host} true` through mlps_mpi_rsh_agent must work, and {host} needs "
                   "the venv at the same path")
        rows.append(_row("mpirun_launch", host, False, expected, "no answer",
                         f"mpirun from {launcher} over {len(hosts)} hosts got no rank on {host}"
                         + (" (it is unreachable)" if host not in reachable else "")
                         + (f"; mpirun said: {error}" if error else ""), fix))
    return rows


def _capacity_row(host: str, probe_path: dict, needed: int | None, plan: Plan) -> Check:
    path = probe_path.get("path")
    if probe_path.get("error"):
        hung = bool(probe_path.get("hung"))
        found = "no answer (hung mount?)" if hung else "error"
        return _row("data_capacity", host, False, "a readable filesystem", found,
                    f"{host}: {probe_path['error']}" if hung else f"statvfs of {path} on {host}: {probe_path['error']}",
                    f"check the mount of {path} on {host} (mount | grep {probe_path.get('mountpoint') or path})")
    avail = probe_path.get("avail_bytes")
    if needed is None or avail is None:
        return _row("data_capacity", host, None, "planned bytes", _gib(avail), f"not run: {plan.source}")
    ok = avail >= needed
    where = f"{probe_path.get('mountpoint') or '?'} ({probe_path.get('fstype') or '?'})"
    return _row("data_capacity", host, ok, f">= {_gib(needed)} free ({plan.source})", f"{_gib(avail)} free on {where}",
                "; ".join(plan.notes) if ok else f"{path} on {host} has {_gib(avail)} free on {where}, the plan "
                f"needs {_gib(needed)}" + (f" ({'; '.join(plan.notes)})" if plan.notes else ""),
                "" if ok else f"free {_gib(needed - avail)} on {where} (df -h {probe_path.get('probed') or path}) or "
                f"set {_CAPACITY_SETTING[plan.checkpoint]} to a larger filesystem")


# What to change when the planned bytes do not fit, by whether they land in the checkpoint folder.
_CAPACITY_SETTING = {False: "mlps_data_dir", True: "mlps_checkpointing_folder (or lower mlps_checkpointing_scale)"}


def _gib(value) -> str:
    if value is None:
        return "?"
    return f"{value / GIB:.2f} GiB" if value >= GIB // 100 else f"{value / 2**20:.2f} MiB"


def _shared_row(host: str, launcher: str, probe: dict, sentinel_written: dict, data_dir: str,
                launcher_inode, family: str | None) -> Check:
    expected = f"sees the sentinel {launcher} wrote in {data_dir}"
    if sentinel_written.get("failed"):
        return _row("data_shared", host, False, expected, "no sentinel",
                    f"{launcher} could not write the sentinel in {data_dir}: {_text(sentinel_written.get('msg'))}",
                    f"create {data_dir} on the shared filesystem, writable by the campaign user (mkdir -p {data_dir})")
    seen = probe.get("sentinel") or {}
    if seen.get("error"):  # the data directory did not answer here (a hung mount)
        return _row("data_shared", host, False, expected, "no answer", f"{host}: {seen['error']}",
                    f"on {host}, check the mount of {data_dir} (mount | grep {data_dir}; umount -l it if it is dead)")
    if seen.get("exists") and seen.get("matches") and (launcher_inode is None or seen.get("st_ino") == launcher_inode):
        return _row("data_shared", host, True, expected, f"seen (inode {seen.get('st_ino')})")
    data = (probe.get("paths") or {}).get("data") or {}
    mount = f"{data.get('mountpoint') or '?'} ({data.get('fstype') or '?'})"
    if seen.get("exists") and not seen.get("matches"):
        found = "another file with the sentinel's name"
    elif seen.get("exists"):
        found = f"another inode ({seen.get('st_ino')} vs {launcher_inode})"
    else:
        found = "not there"
    return _row("data_shared", host, False, expected, found,
                f"{data_dir} on {host} is not the launcher's directory: the sentinel is {found}; here it is on "
                f"{mount}, so it is host-local, not one filesystem shared by all clients",
                f"on {host}, mount the shared data filesystem at {data_dir}: "
                + os_command("nfs", family, path=data_dir))


def _separation_row(host: str, sep: dict, data_dir: str, results_dir: str) -> Check:
    expected = "different filesystems"
    if not sep or sep.get("same") is None:
        return _row("fs_separation", host, None, expected,
                    detail=f"not run: {(sep or {}).get('detail') or 'no probe result'}")
    same = bool(sep["same"])
    method = sep.get("method") or "?"
    found = f"{'same' if same else 'different'} filesystem (by {method})"
    return _row("fs_separation", host, not same, expected, found,
                (f"data {data_dir} and results {results_dir} are on one filesystem on {host} "
                 f"({sep.get('detail') or method})") if same else sep.get("detail") or "",
                "set mlps_results_dir (or mlps_data_dir) so that they lie on different filesystems; "
                "the data directory must be on the storage under test, the results elsewhere" if same else "")


def _memory_row(host: str, memory: int | None, ranks: int | None) -> Check:
    per = datasize.HOST_MEMORY_PER_ACCELERATOR_BYTES
    if ranks is None:
        return _row("host_memory", host, None, detail="not run: the accelerator count is invalid")
    needed = datasize.host_memory_needed(ranks)
    if not memory:
        return _row("host_memory", host, None, f">= {_gib(needed)}", detail="not run: MemTotal unknown")
    ok = memory >= needed
    most = memory // per
    return _row("host_memory", host, ok, f">= {_gib(needed)} ({ranks} accelerators x 0.5 GiB)",
                f"{_gib(memory)} MemTotal", "" if ok else f"{host} has {_gib(memory)} for {ranks} simulated "
                f"accelerators; at most {most} fit at 0.5 GiB each",
                "" if ok else f"lower the accelerators per host to {most} or use clients with more memory")


_CONVERSION_DETAIL = re.compile(r": <class '[^']*'> cannot be converted to .*$")


def spec_errors(item: dict) -> list[str]:
    """Type errors of one validate_argument_spec result. A role's required options are not the
    preflight's business (it checks the values set, for roles this campaign may not run)."""
    errors = item.get("errors") or [item.get("msg") or "validation failed"]
    cleaned = [_CONVERSION_DETAIL.sub("", " ".join(str(e).split())) for e in errors]
    return [f"{item.get('spec')}: {e}" for e in cleaned if not e.startswith("missing required arguments")]


@dataclass
class Gathered:
    """Everything the role gathered, keyed by inventory host name (hosts in inventory order)."""

    hosts: list[str]
    launcher: str
    settings: dict[str, dict]
    specs: dict[str, list[dict]]         # host -> [{spec, failed, errors, msg}]
    clocks: dict[str, dict]              # host -> {host_time, before, after} or an unreachable result
    probes: dict[str, dict]              # host -> probe module result (or failed/unreachable/skipped)
    launch: dict                         # mlps_mpirun result from the launcher
    sentinel: dict                       # result of writing the sentinel on the launcher
    controller: dict                     # the probe module run on the controller (results dir only)
    ckpt_probe: dict = field(default_factory=dict)  # checkpointing: `mlps_ckpt_native.py --probe-dlio` on the launcher


@dataclass
class _View:
    """What build_checks derives once from the gathered results."""

    g: Gathered
    settings: dict[str, Settings]
    main: Settings                       # the launcher's settings: the campaign's plan uses them
    reachable: list[str]
    unreachable: list[str]
    ok_probes: dict[str, dict]           # reachable hosts whose probe ran
    families: dict[str, str | None]

    def not_run(self, name: str, host: str) -> Check:
        why = NOT_RUN_UNREACHABLE if host in self.unreachable else "not run: the probe failed"
        return _row(name, host, None, detail=why)


def _view(g: Gathered) -> _View:
    settings = {h: Settings.from_dict(g.settings.get(h) or {}) for h in g.hosts}
    unreachable = [h for h in g.hosts if _unreachable(g.clocks.get(h)) or _unreachable(g.probes.get(h))]
    reachable = [h for h in g.hosts if h not in unreachable]
    probes = {h: (g.probes.get(h) or {}) for h in reachable}
    return _View(g=g, settings=settings, main=settings.get(g.launcher) or settings[g.hosts[0]],
                 reachable=reachable, unreachable=unreachable,
                 ok_probes={h: p for h, p in probes.items() if not p.get("failed") and "venv" in p},
                 families={h: os_family(probes.get(h, {}).get("os_release")) for h in g.hosts})


def _inventory_checks(v: _View) -> list[Check]:
    rows = []
    for host in v.g.hosts:
        failed_specs = [item for item in v.g.specs.get(host) or [] if item.get("failed")]
        errors = [e for item in failed_specs for e in spec_errors(item)]
        specs = sorted({str(item.get("spec")) for item in failed_specs if spec_errors(item)})
        rows.append(_row("inventory_types", host, not errors, "types of every role's meta/argument_specs.yml",
                         "valid" if not errors else f"{len(errors)} problem(s) in {', '.join(specs)}",
                         f"{host}: " + "; ".join(dict.fromkeys(errors)) if errors else "",
                         "" if not errors else "fix these variables in the inventory (host_vars/group_vars) or -e"))
    for host in v.g.hosts:
        s = v.settings[host]
        problems = value_problems(s)
        rows.append(_row("inventory_values", host, not problems, "known benchmark, model/accelerator, "
                         "accelerators per host > 0, division closed|open",
                         f"{s.benchmark} {s.model}/{s.accelerator} x{s.accelerators_per_host} {s.division}",
                         f"{host}: " + "; ".join(problems) if problems else "",
                         "" if not problems else "set these values in the inventory or with -e"))
    return rows


def _client_checks(v: _View) -> list[Check]:
    """reachable, then python, venv, dlio_import, mpirun_present and mpi_match for every host."""
    rows = []
    for host in v.g.hosts:
        result = v.g.clocks.get(host) if _unreachable(v.g.clocks.get(host)) else v.g.probes.get(host)
        ok = host in v.reachable
        rows.append(_row("reachable", host, ok, "SSH login works", "reachable" if ok else "unreachable",
                         "" if ok else f"{host} is unreachable: {_text((result or {}).get('msg'))}",
                         "" if ok else f"from the controller run `ssh {host} true`; on {host} start sshd "
                         f"({os_command('sshd', None)})"))
    per_host = {h: _host_rows(h, v.settings[h], v.g.probes.get(h) or {}, v.families[h]) for h in v.reachable}
    for name in ("python", "venv", "dlio_import", "mpirun_present", "mpi_match"):
        for host in v.g.hosts:
            rows += ([r for r in per_host[host] if r.name == name] if host in per_host
                     else [_row(name, host, None, detail=NOT_RUN_UNREACHABLE)])
    return rows


def _clock_checks(v: _View) -> list[Check]:
    readings = {}
    for host in v.reachable:
        clock = v.g.clocks.get(host) or {}
        if all(isinstance(clock.get(k), int | float) for k in ("host_time", "before", "after")):
            readings[host] = ClockReading(clock["host_time"], clock["before"], clock["after"])
    measured = clock_rows(readings, v.families, float(v.main.clock_warn_seconds))
    rows = []
    for host in v.g.hosts:
        mine = [r for r in measured if r.host == host]
        why = NOT_RUN_UNREACHABLE if host in v.unreachable else \
            f"not run: {_text((v.g.clocks.get(host) or {}).get('msg') or 'no clock reading')}"
        rows += mine or [_row("clock_skew", host, None, detail=why)]
    return rows + [r for r in measured if r.host == CLUSTER]


def _capacity_checks(v: _View) -> tuple[list[Check], Plan]:
    memory, unknown = client_memory({h: (v.ok_probes.get(h, {}).get("machine_id"),
                                         v.ok_probes.get(h, {}).get("memory_total_bytes")) for h in v.g.hosts})
    plan = plan_bytes(v.main, len(v.g.hosts), memory, unknown)
    # checkpointing writes into the checkpoint folder, which may sit on another filesystem than mlps_data_dir
    where = "checkpoint" if v.main.benchmark == "checkpointing" else "data"
    rows = [_capacity_row(h, v.ok_probes[h]["paths"].get(where) or v.ok_probes[h]["paths"]["data"],
                          plan.data_bytes, plan) if h in v.ok_probes
            else v.not_run("data_capacity", h) for h in v.g.hosts]
    return [*rows, _results_capacity_row(v.g.controller, v.main)], plan


def _filesystem_checks(v: _View) -> list[Check]:
    """data_shared and fs_separation."""
    rows = []
    launcher_seen = (v.ok_probes.get(v.g.launcher) or {}).get("sentinel") or {}
    launcher_inode = launcher_seen.get("st_ino") if launcher_seen.get("exists") else None
    for host in v.g.hosts:
        written = v.g.sentinel or {}
        if len(v.g.hosts) == 1 and written.get("failed"):
            # one client shares nothing, but its data directory must still be creatable
            data_dir = v.settings[host].data_dir
            rows.append(_row("data_shared", host, False, f"{data_dir} can be created and written", "not created",
                             f"{host} could not create {data_dir}: {_text(written.get('msg'))}",
                             f"mkdir -p {data_dir} on {host} with write access for the campaign's user, or set "
                             "mlps_data_dir to a folder that can be created"))
        elif len(v.g.hosts) == 1:
            rows.append(_row("data_shared", host, True, "one client: nothing to share", "single host"))
        elif v.g.launcher in v.unreachable:
            rows.append(_row("data_shared", host, None, detail=f"not run: the launcher {v.g.launcher} is unreachable"))
        elif host not in v.ok_probes:
            rows.append(v.not_run("data_shared", host))
        else:
            rows.append(_shared_row(host, v.g.launcher, v.ok_probes[host], v.g.sentinel or {},
                                    v.settings[host].data_dir, launcher_inode, v.families[host]))
    for host in v.g.hosts:
        rows.append(_separation_row(host, v.ok_probes[host].get("separation") or {}, v.settings[host].data_dir,
                                    v.settings[host].results_dir) if host in v.ok_probes
                    else v.not_run("fs_separation", host))
    rows.append(_separation_row(CONTROLLER, (v.g.controller or {}).get("separation") or {}, v.main.data_dir,
                                v.main.results_dir))
    return rows


def _dlio_probe(result: dict) -> tuple[dict | None, str]:
    """The launcher's DLIO probe (JSON on the command's stdout), or None and why it is missing."""
    if not result or result.get("skipped"):
        return None, "the probe did not run"
    if result.get("failed") or result.get("rc"):
        return None, _text(result.get("stderr") or result.get("msg") or "the probe failed")
    try:
        probe = json.loads(result.get("stdout") or "")
    except ValueError:
        return None, f"unreadable probe output {_text(result.get('stdout'), 80)!r}"
    return (probe, "") if isinstance(probe, dict) else (None, "the probe printed no JSON object")


ENGINE_FIX = ("set mlps_checkpointing_engine=native (or auto; native results are OPEN only), or install "
              "MLCommons' DLIO build in the client venv (mlps_env_dlio_package) and run playbooks/setup.yml")


def _engine_rows(v: _View) -> list[Check]:
    """checkpoint_engine, on the launcher, for a checkpointing campaign only: engine=dlio needs a DLIO
    with the checkpoint-only workload, which the PyPI 2.0.0 build lacks (mlps.campaign.checkpointing)."""
    if v.main.benchmark != "checkpointing":
        return []
    launcher, engine = v.g.launcher, v.main.checkpoint_engine
    expected = "a DLIO with the checkpoint-only workload" if engine == "dlio" else f"engine {engine}"
    if engine == "native":
        return [_row("checkpoint_engine", launcher, True, expected, "native engine (OPEN only)",
                     "mlps_checkpointing_engine=native: DLIO is not used")]
    if launcher in v.unreachable:
        return [_row("checkpoint_engine", launcher, None, expected, detail=NOT_RUN_UNREACHABLE)]
    probe, missing = _dlio_probe(v.g.ckpt_probe or {})
    if probe is None and engine != "dlio":
        return [_row("checkpoint_engine", launcher, None, expected, detail=f"not run: {missing}")]
    usable, why = checkpointing.dlio_has_checkpoint_workload(probe or {"error": missing})
    if engine == "dlio":
        return [_row("checkpoint_engine", launcher, usable, expected, "has it" if usable else "lacks it",
                     "" if usable else f"mlps_checkpointing_engine=dlio on {launcher}: {why}",
                     "" if usable else ENGINE_FIX)]
    return [_row("checkpoint_engine", launcher, True, expected, "DLIO" if usable else "native engine (OPEN only)",
                 why if usable else f"{why}: engine auto runs the native engine")]


def build_checks(g: Gathered) -> tuple[list[Check], Plan]:
    """Every check, in the stable order of CHECKS, then hosts in inventory order."""
    if not g.hosts:
        raise UserError("no clients to check: the play has no hosts; check the inventory's clients group")
    v = _view(g)
    hostnames = {h: str(p.get("hostname") or h) for h, p in v.ok_probes.items()}
    capacity, plan = _capacity_checks(v)
    memory = []
    for host in g.hosts:
        ranks = ranks_per_host(v.settings[host], g.hosts)
        memory.append(_memory_row(host, v.ok_probes[host].get("memory_total_bytes"),
                                  None if ranks is None else ranks.get(host, 0)) if host in v.ok_probes
                      else v.not_run("host_memory", host))
    rows = [*_inventory_checks(v), *_client_checks(v),
            *_engine_rows(v), *_launch_rows(g.hosts, v.reachable, g.launcher, g.launch or {}, hostnames),
            *_clock_checks(v), *capacity, *_filesystem_checks(v), *memory]
    order = list(CHECKS)
    return sorted(rows, key=lambda r: order.index(r.name)), plan   # stable: hosts keep their order


def _results_capacity_row(controller: dict, s: Settings) -> Check:
    probe = ((controller or {}).get("paths") or {}).get("results") or {}
    needed = _whole(s.results_bytes, "", 0)[0]
    if (controller or {}).get("failed") or probe.get("error"):
        why = probe.get("error") or _text(controller.get("msg"))
        return _row("results_capacity", CONTROLLER, False, "a writable results directory", "error",
                    f"results directory {s.results_dir} on the controller: {why}",
                    "set mlps_results_dir to a directory the controller can create and write")
    avail = probe.get("avail_bytes")
    if avail is None or needed is None:
        return _row("results_capacity", CONTROLLER, None, detail="not run: no statvfs of the results directory")
    ok = avail >= needed
    return _row("results_capacity", CONTROLLER, ok, f">= {_gib(needed)} free (mlps_preflight_results_bytes)",
                f"{_gib(avail)} free", "" if ok else f"results directory {s.results_dir} on the controller has "
                f"{_gib(avail)} free, the results tree needs {_gib(needed)}",
                "" if ok else f"free space under {s.results_dir} (df -h {s.results_dir}) or set mlps_results_dir "
                "to a larger filesystem")


# ---------------------------------------------------------------------------------------------
# Report: preflight.json and the table


def report_document(checks: list[Check], plan: Plan | None, settings: dict, *, skipped: bool = False,
                    skip_reason: str = "", created_at: str | None = None) -> dict:
    failed = [c for c in checks if c.failed]
    return {
        "schema": SCHEMA,
        "created_at": created_at or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "skipped": skipped,
        "skip_reason": skip_reason if skipped else "",
        "ok": not failed,
        "summary": {
            "checks": len(checks),
            "passed": sum(1 for c in checks if c.ok),
            "failed": len(failed),
            "warnings": sum(1 for c in checks if c.ok is False and c.severity == WARNING),
            "not_run": sum(1 for c in checks if c.ok is None),
        },
        "plan": plan.to_dict() if plan else None,
        "settings": settings,
        # the stable list of checks this campaign runs: checkpoint_engine only for checkpointing
        "check_names": [n for n in CHECKS if n not in CHECKPOINT_ONLY or any(c.name == n for c in checks)],
        "checks": [c.to_dict() for c in checks],
    }


def write_report(path, document: dict) -> Path:
    """Atomic write: a reader sees the old file or the whole new one."""
    return write_json_atomic(path, document)


def render_table(checks: list[Check], width: int = 48) -> list[str]:
    """One line per check (status, check, host, found, expected), then one line per problem with
    what is wrong and the fix."""
    header = ("status", "check", "host", "found", "expected")
    cells = [(c.status, c.name, c.host, _text(c.found, width), _text(c.expected, width)) for c in checks]
    widths = [max(len(header[i]), *(len(row[i]) for row in cells)) if cells else len(header[i]) for i in range(5)]
    lines = ["  ".join(col.ljust(widths[i]) for i, col in enumerate(row)).rstrip() for row in [header, *cells]]
    problems = [c for c in checks if c.ok is False]
    if problems:
        lines.append("")
        lines.append(f"{sum(c.failed for c in problems)} failure(s), "
                     f"{sum(not c.failed for c in problems)} warning(s):")
        lines += [f"{c.status} {c.name} on {c.host}: {c.detail or c.found} (expected {c.expected}; found {c.found})"
                  + (f" -> fix: {c.fix}" if c.fix else "") for c in problems]
    return lines


def summary_line(checks: list[Check]) -> str:
    failed = [c for c in checks if c.failed]
    if not failed:
        warned = sum(1 for c in checks if c.ok is False)
        return f"preflight passed: {len(checks)} checks" + (f", {warned} warning(s)" if warned else "")
    return (f"preflight failed: {len(failed)} of {len(checks)} checks: "
            + "; ".join(f"{c.name} on {c.host}" for c in failed))
