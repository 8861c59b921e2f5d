"""What every rank of the facts' MPI collection runs, given as
`python -c <this file's text> <mlps_procfs.py source> <mlps_mpi_collect.py source> ARGS`: it builds
the two modules from the sources in its own argv and runs the collector with ARGS. The launch itself
carries the collector to every rank, through mpirun or srun alike: nothing is copied to any host,
not even the launcher. Python 3.8 syntax, stdlib (the collector then imports mpi4py)."""
import sys
import types

NAMES = ("mlps_procfs", "mlps_mpi_collect")
for index, name in enumerate(NAMES):  # no zip(strict=): clients may run Python 3.8
    module = types.ModuleType(name)
    module.__file__ = "<mlps facts launch: " + name + ">"
    sys.modules[name] = module
    exec(compile(sys.argv[1 + index], module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own code
sys.exit(sys.modules["mlps_mpi_collect"].main(sys.argv[1 + len(NAMES):]))
