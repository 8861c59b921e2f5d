"""The preflight's check rows: their stable order, what each asks, its severity."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SCHEMA = "mlps-preflight/1"
GIB = 2**30
ERROR, WARNING = "error", "warning"
BENCHMARKS = ("training", "checkpointing", "kv_cache", "vector_database")
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
    "data_shared": "multi-host: every client sees the launcher's sentinel in one shared data directory (VectorDB: "
                   "only the server host holds data)",
    "fs_separation": "data and results directories are on different filesystems",
    "host_memory": "host memory covers 0.5 GiB per simulated accelerator (SYS-HOST-RAM-PER-ACCEL); VectorDB: the "
                   "server host's memory holds Milvus's loaded in-memory index",
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


def _text(value, limit: int = 200) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _gib(value) -> str:
    if value is None:
        return "?"
    return f"{value / GIB:.2f} GiB" if value >= GIB // 100 else f"{value / 2**20:.2f} MiB"
