"""From everything the role gathered to the one stable list of checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mlps.campaign import checkpointing
from mlps.errors import UserError
from mlps.preflight.capacity import Plan, client_memory, plan_bytes
from mlps.preflight.checks import CHECKS, CLUSTER, CONTROLLER, NOT_RUN_UNREACHABLE, Check, _gib, _row, _text
from mlps.preflight.clock import ClockReading, clock_rows
from mlps.preflight.fixes import os_command, os_family
from mlps.preflight.rows import (
    _capacity_row,
    _host_rows,
    _launch_rows,
    _memory_row,
    _separation_row,
    _shared_row,
    _unreachable,
    spec_errors,
    vdb_memory_row,
)
from mlps.preflight.settings import Settings, _whole, ranks_per_host, value_problems, vdb_footprint


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
        workload = (f"{s.vdb_engine} {s.vdb_index} {s.vdb_num_vectors} x {s.vdb_dimension}"
                    if s.benchmark == "vector_database" else f"{s.model}/{s.accelerator} x{s.accelerators_per_host}")
        rows.append(_row("inventory_values", host, not problems, "known benchmark, model/accelerator, "
                         "accelerators per host > 0, division closed|open",
                         f"{s.benchmark} {workload} {s.division}",
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
    if v.main.benchmark == "vector_database":   # only the embedded server's host writes data
        server = _server_host(v)
        rows = [row if row.host == server else _row("data_capacity", row.host, True, "query ranks only",
                                                    "no server data here") for row in rows]
    return [*rows, _results_capacity_row(v.g.controller, v.main)], plan


def _server_host(v: _View) -> str:
    """VectorDB: the client the embedded server runs on (its data folder is there alone)."""
    return v.main.vdb_server_host or v.g.launcher


def _filesystem_checks(v: _View) -> list[Check]:
    """data_shared and fs_separation."""
    rows = []
    vdb = v.main.benchmark == "vector_database"
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
        elif vdb:
            rows.append(_row("data_shared", host, True, "nothing to share", f"data on {_server_host(v)} only",
                             "the VectorDB server's data folder is on its own host; the clients send queries"))
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
        if v.main.benchmark == "vector_database":
            memory.append(_vdb_memory(v, host))
            continue
        ranks = ranks_per_host(v.settings[host], g.hosts)
        memory.append(_memory_row(host, v.ok_probes[host].get("memory_total_bytes"),
                                  None if ranks is None else ranks.get(host, 0)) if host in v.ok_probes
                      else v.not_run("host_memory", host))
    rows = [*_inventory_checks(v), *_client_checks(v),
            *_engine_rows(v), *_launch_rows(g.hosts, v.reachable, g.launcher, g.launch or {}, hostnames, v.main),
            *_clock_checks(v), *capacity, *_filesystem_checks(v), *memory]
    order = list(CHECKS)
    return sorted(rows, key=lambda r: order.index(r.name)), plan   # stable: hosts keep their order


def _vdb_memory(v: _View, host: str) -> Check:
    if host not in v.ok_probes:
        return v.not_run("host_memory", host)
    s = v.settings[host]
    try:
        index_memory = vdb_footprint(s)["memory"]
    except UserError:
        return _row("host_memory", host, None, detail="not run: the VectorDB settings are invalid "
                    "(see inventory_values)")
    return vdb_memory_row(host, _server_host(v), v.ok_probes[host].get("memory_total_bytes"), index_memory, s)


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
