"""Build launch argv lists: mpirun for Open MPI and MPICH (hydra), or Slurm's srun inside an
allocation. Pure: no process is started here.

Ranks are split evenly over the hosts with the remainder going to the first hosts, which is how
mlpstorage places them; the rules call an unequal split out separately (SYS-ACCEL-EQUAL). srun's
block distribution over the same node list gives the same split.

mpirun inside a Slurm allocation (a job id given) starts its daemons through Slurm, not SSH: Open
MPI's `plm slurm` and MPICH's `-launcher slurm` both run srun in the job. They learn the job from the
environment a shell inside it has; `slurm_env` is that environment, limited to the launch's hosts,
for an mpirun that Ansible started over SSH (which carries none of it).
"""

from __future__ import annotations

import re

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_JOB_ID = re.compile(r"^[0-9]{1,12}(?:_[0-9]{1,9})?(?:\+[0-9]{1,6})?$")
LAUNCHERS = ("mpirun", "srun")
# srun's MPI plugin per implementation when the user leaves it to us (`--mpi=list` tells what a
# Slurm build has): Open MPI 5 speaks PMIx, MPICH's hydra-less ranks PMI-2.
SLURM_MPI_DEFAULT = {"openmpi": "pmix", "mpich": "pmi2"}


class MpirunError(ValueError):
    """Arguments that cannot make a valid mpirun command line."""


def placement(np: int, hosts: list[str]) -> list[tuple[str, int]]:
    """Ranks per host: np // len(hosts) each, one more on each of the first np % len(hosts) hosts."""
    if np < 1:
        raise MpirunError(f"number of processes must be at least 1, got {np}")
    if not hosts:
        raise MpirunError("at least one host is needed")
    base, extra = divmod(np, len(hosts))
    return [(host, base + (1 if i < extra else 0)) for i, host in enumerate(hosts) if base + (i < extra) > 0]


def build_argv(
    command: list[str],
    np: int,
    hosts: list[str],
    *,
    mpirun: str = "mpirun",
    implementation: str = "openmpi",
    as_root: bool = False,
    oversubscribe: bool = True,
    bind_to: str = "none",
    map_by: str = "slot",
    mca: dict[str, str] | None = None,
    env: list[str] | None = None,
    rsh_agent: str | None = None,
    prefix: str | None = None,
    extra_args: list[str] | None = None,
    launcher: str = "mpirun",
    srun: str = "srun",
    slurm_mpi: str = "auto",
    slurm_job: str | None = None,
) -> list[str]:
    """Return the argv that starts `command` on `np` ranks over `hosts`.

    env names variables to forward from the launcher's environment to every rank (srun forwards
    the whole environment). launcher srun starts the ranks as a step of Slurm job `slurm_job` (the
    caller's own allocation when None) through MPI plugin `slurm_mpi`.
    """
    if not command:
        raise MpirunError("the command to launch is empty")
    for host in hosts:
        if not _HOST.match(host):
            raise MpirunError(f"host name {host!r} is not a plain host name (letters, digits, '.', '-', '_')")
    for name in env or []:
        if not _ENV_NAME.match(name):
            raise MpirunError(f"environment variable name {name!r} is not valid")
    if launcher == "srun":
        return _srun_argv(command, np, hosts, srun, implementation, slurm_mpi, slurm_job, oversubscribe, bind_to,
                          extra_args)
    if launcher != "mpirun":
        raise MpirunError(f"launcher {launcher!r} is not supported; use one of {', '.join(LAUNCHERS)}")
    host_list = ",".join(f"{host}:{count}" for host, count in placement(np, hosts))
    if slurm_job:
        _check_job(slurm_job)
    if implementation == "openmpi":
        # in an allocation, PRRTE's daemons start as one srun step (no remote shell)
        mca = {**(mca or {}), "plm": "slurm"} if slurm_job else mca or {}
        argv = [mpirun, "-np", str(np), "--host", host_list, *_openmpi_options(
            as_root, oversubscribe, bind_to, map_by, mca, env or [], None if slurm_job else rsh_agent, prefix)]
    elif implementation == "mpich":
        argv = [mpirun, "-n", str(np), "-hosts", host_list, *_mpich_options(
            bind_to, env or [], None if slurm_job else rsh_agent)]
        if slurm_job:
            argv += ["-launcher", "slurm"]
    else:
        raise MpirunError(f"MPI implementation {implementation!r} is not supported; use openmpi or mpich")
    return argv + list(extra_args or []) + list(command)


def _srun_argv(command, np, hosts, srun, implementation, slurm_mpi, slurm_job, oversubscribe, bind_to,
               extra_args) -> list[str]:
    if implementation not in SLURM_MPI_DEFAULT:
        raise MpirunError(f"MPI implementation {implementation!r} is not supported; use openmpi or mpich")
    plugin = slurm_plugin(implementation, slurm_mpi)
    if not re.match(r"^[a-z0-9_]+$", plugin):
        raise MpirunError(f"Slurm MPI plugin {plugin!r} is not a plugin name (see srun --mpi=list)")
    slots = placement(np, hosts)
    argv = [srun, f"--mpi={plugin}", "--nodes", str(len(slots)), "--ntasks", str(np),
            "--nodelist", ",".join(host for host, _count in slots), "--distribution", "block",
            # our samplers and, for BenchFS, the daemons' own step share the nodes with this step
            "--overlap", "--kill-on-bad-exit=1", "--export", "ALL"]
    counts = {count for _host, count in slots}
    if len(counts) == 1:
        argv += ["--ntasks-per-node", str(counts.pop())]
    if slurm_job:
        _check_job(slurm_job)
        argv.append(f"--jobid={slurm_job}")
    if oversubscribe:
        argv.append("--overcommit")
    if bind_to in ("", "none"):
        argv.append("--cpu-bind=none")
    return argv + list(extra_args or []) + list(command)


def _check_job(slurm_job) -> None:
    if not _JOB_ID.match(str(slurm_job)):
        raise MpirunError(f"Slurm job id {slurm_job!r} is not a job id (digits, as squeue prints it)")


def slurm_env(np: int, hosts: list[str], slurm_job: str) -> dict[str, str]:
    """The variables by which mpirun's Slurm support finds its job and nodes (what `salloc` sets),
    for the hosts and rank counts of this launch."""
    _check_job(slurm_job)
    slots = placement(np, hosts)
    nodes, count = ",".join(host for host, _n in slots), str(len(slots))
    return {"SLURM_JOB_ID": str(slurm_job), "SLURM_JOBID": str(slurm_job), "SLURM_JOB_NODELIST": nodes,
            "SLURM_NODELIST": nodes, "SLURM_JOB_NUM_NODES": count, "SLURM_NNODES": count,
            "SLURM_TASKS_PER_NODE": ",".join(str(n) for _host, n in slots)}


def slurm_mpi_plugins(listing: str) -> set[str]:
    """The plugin names `srun --mpi=list` prints (22.05: a heading, then one name per line, then
    "specific pmix plugin versions available: pmix_v4" lines, which name versions of pmix)."""
    names = set()
    for line in listing.splitlines():
        word = line.strip().removeprefix("srun: ").strip()
        if re.match(r"^[a-z0-9_]+$", word):
            names.add(word)
        elif "plugin versions available:" in word:
            names.update(w.strip() for w in word.split(":", 1)[1].split(",") if re.match(r"^[a-z0-9_]+$", w.strip()))
    return names


def slurm_plugin(implementation: str, slurm_mpi: str) -> str:
    """The --mpi plugin an srun launch uses ("auto" picks the one the implementation speaks)."""
    return SLURM_MPI_DEFAULT.get(implementation, "pmix") if slurm_mpi in ("", "auto") else slurm_mpi


def _openmpi_options(as_root, oversubscribe, bind_to, map_by, mca, env, rsh_agent, prefix) -> list[str]:
    argv = ["--map-by", f"{map_by}:OVERSUBSCRIBE" if oversubscribe else map_by, "--bind-to", bind_to]
    if as_root:
        argv.append("--allow-run-as-root")
    if prefix:
        argv += ["--prefix", prefix]
    if rsh_agent:
        argv += ["--mca", "plm_rsh_agent", rsh_agent]
    for key, value in sorted(mca.items()):
        argv += ["--mca", str(key), str(value)]
    for name in env:
        argv += ["-x", name]
    return argv


def _mpich_options(bind_to, env, rsh_agent) -> list[str]:
    argv = []
    if bind_to and bind_to != "none":
        argv += ["-bind-to", bind_to]
    if rsh_agent:
        argv += ["-launcher", "ssh", "-launcher-exec", rsh_agent]
    if env:
        argv += ["-genvlist", ",".join(env)]
    return argv
