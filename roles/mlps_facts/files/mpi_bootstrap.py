"""What every rank of the facts' MPI collection runs, given as `python -c <this file's text> DIR ARGS`:
rank 0 (on the launcher, the one host the collector was copied to) reads mlps_procfs.py and
mlps_mpi_collect.py from DIR and broadcasts their source over MPI; every rank builds the two modules
from it and runs the collector with ARGS. So no per-host copy of the collector is needed: the launch
itself carries it, through mpirun or srun alike. Python 3.8 syntax, stdlib plus mpi4py."""
import sys
import types

from mpi4py import MPI

NAMES = ("mlps_procfs", "mlps_mpi_collect")
comm = MPI.COMM_WORLD
folder = sys.argv[1]
sources = None
if comm.Get_rank() == 0:
    sources = []
    for name in NAMES:
        with open(folder + "/" + name + ".py", encoding="utf-8") as handle:
            sources.append(handle.read())
sources = comm.bcast(sources, root=0)
for index, name in enumerate(NAMES):  # no zip(strict=): clients may run Python 3.8
    source = sources[index]
    module = types.ModuleType(name)
    module.__file__ = folder + "/" + name + ".py"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own module, from rank 0
sys.exit(sys.modules["mlps_mpi_collect"].main(sys.argv[2:]))
