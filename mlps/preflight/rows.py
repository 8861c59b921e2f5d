"""One check row per client or per cluster, from what the role gathered on that host."""

from __future__ import annotations

import re

from mlps.plan import datasize
from mlps.preflight.capacity import Plan
from mlps.preflight.checks import Check, _gib, _row, _text
from mlps.preflight.fixes import _OS_COMMANDS, os_command, setup_fix
from mlps.preflight.settings import Settings
from mlps_module_utils.mlps_venv import MARKER_SCHEMA, identify_mpi


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
                 hostnames: dict[str, str], s: Settings | None = None) -> list[Check]:
    expected = "a rank on this host prints its hostname"
    tool = s.launch_with if s else "mpirun"
    if launcher not in reachable:
        return [_row("mpirun_launch", h, False, expected, "not launched",
                     f"the launcher {launcher} is unreachable, so no {tool} could start",
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
            fix = f"make {', '.join(down)} reachable first: {tool} needs every client"
        elif tool == "srun" or (s and s.slurm_job):
            # mpirun in an allocation starts its daemons with srun too
            job = f"Slurm job {s.slurm_job}" if s.slurm_job else "the Slurm allocation srun runs in"
            plugin = (f" and srun --mpi=list on {launcher} must offer the plugin (mlps_slurm_mpi)"
                      if tool == "srun" else "")
            fix = (f"every client must be a node of {job}{plugin}: run the playbook inside salloc/sbatch with "
                   "the mlps_slurm inventory")
        elif host == launcher:
            fix = f"on {launcher}, run the mpirun command in preflight.json by hand and fix what it says"
        else:
            fix = (f"on {launcher}, `ssh {host} true` through mlps_mpi_rsh_agent must work, and {host} needs "
                   "the venv at the same path")
        rows.append(_row("mpirun_launch", host, False, expected, "no answer",
                         f"{tool} from {launcher} over {len(hosts)} hosts got no rank on {host}"
                         + (" (it is unreachable)" if host not in reachable else "")
                         + (f"; {tool} said: {error}" if error else ""), fix))
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


# What the embedded Milvus standalone server itself holds in memory before any collection (about
# 1.3 GB resident measured with Milvus 2.3.5), rounded up.
MILVUS_BASE_MEMORY = 2 * 2**30


def vdb_memory_row(host: str, server_host: str, memory: int | None, index_memory: int | None, s: Settings) -> Check:
    """VectorDB: the server host's memory against Milvus and its loaded in-memory index; other clients
    only send queries."""
    if host != server_host or s.vdb_uri:
        return _row("host_memory", host, True, "query ranks only", "no server here",
                    "mlps_vectordb_uri: the running server is not checked" if s.vdb_uri else "")
    if index_memory is None:
        return _row("host_memory", host, True, "an index paged from disk", f"{s.vdb_engine} {s.vdb_index}",
                    f"{s.vdb_engine} {s.vdb_index} reads its index from the data folder: no memory bound")
    needed = index_memory + MILVUS_BASE_MEMORY
    if not memory:
        return _row("host_memory", host, None, f">= {_gib(needed)}", detail="not run: MemTotal unknown")
    ok = memory >= needed
    return _row("host_memory", host, ok, f">= {_gib(needed)} (the loaded {s.vdb_index} index and Milvus)",
                f"{_gib(memory)} MemTotal", "" if ok else f"{host} has {_gib(memory)}; Milvus loads the whole "
                f"{s.vdb_index} index ({_gib(index_memory)}) into memory before the queries",
                "" if ok else "choose a server host with more memory (mlps_vectordb_server_host), a disk index "
                "(DISKANN), or fewer vectors (mlps_vectordb_num_vectors)")
