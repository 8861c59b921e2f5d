"""TRAIN-DATASIZE planner (rule book §3.1.2) and the accelerator placement rules (rule book §3.3.6).

Arithmetic is exact (fractions): the published examples are checked to the byte, and a float
rounding of 5 x memory / record length could move the ceiling by one file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

from mlps.errors import UserError
from mlps.rulebook.workloads import TrainingWorkload
from mlps_module_utils.mlps_mpirun import placement

RULE_ID = "TRAIN-DATASIZE"
RULE_SECTION = "Rules.md 3.1.2"
RULE_TEXT = ("the training dataset must be at least 5x the total client host memory and give every "
             "simulated accelerator at least 500 steps per epoch: num_files_train >= "
             "max(ceil(5 * M_total / (samples_per_file * record_length)), "
             "ceil(500 * N * batch_size / samples_per_file))")
HOST_MEMORY_MULTIPLIER = 5
MIN_STEPS_PER_EPOCH = 500
SUBFOLDER_FILES = 10_000
GIB = 2**30
# SYS-HOST-RAM-PER-ACCEL: about 0.5 GB of host RAM per simulated accelerator (DLIO's GB are GiB).
HOST_MEMORY_PER_ACCELERATOR_BYTES = GIB // 2
# Editions whose validator tolerated "ceil - 1" (datasize leaves of tools <= 3.0.42 floor-divided).
FLOOR_TOLERANT_EDITIONS = frozenset({"3.0"})


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{name} must be a positive whole number, got {value!r}")
    return value


def _exact(value) -> Fraction:
    # str() first so 114660.07 means the decimal the rule book prints, not the nearest binary float
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


@dataclass(frozen=True)
class DatasizePlan:
    model: str
    accelerator: str
    num_accelerators: int
    client_memory_bytes: int
    num_samples_per_file: int
    record_length_bytes: float
    batch_size: int
    files_by_mem: float
    files_by_steps: float
    num_files_train: int
    num_subfolders_train: int
    total_disk_bytes: int
    rule_id: str = RULE_ID

    @property
    def dominant_term(self) -> str:
        return "memory" if math.ceil(self.files_by_mem) >= math.ceil(self.files_by_steps) else "steps"

    def to_dict(self) -> dict:
        return {**asdict(self), "dominant_term": self.dominant_term}


def files_by_memory(client_memory_bytes: int, workload: TrainingWorkload) -> Fraction:
    return (HOST_MEMORY_MULTIPLIER * Fraction(client_memory_bytes)
            / (workload.num_samples_per_file * _exact(workload.record_length_bytes)))


def files_by_steps(num_accelerators: int, workload: TrainingWorkload) -> Fraction:
    return Fraction(MIN_STEPS_PER_EPOCH * num_accelerators * workload.batch_size, workload.num_samples_per_file)


def num_subfolders_train(num_files_train: int) -> int:
    """What the tool suggests: one subfolder per 10 000 files, none at or below 10 000."""
    return num_files_train // SUBFOLDER_FILES if num_files_train > SUBFOLDER_FILES else 0


def total_disk_bytes(num_files_train: int, workload: TrainingWorkload) -> int:
    return math.floor(num_files_train * workload.num_samples_per_file * _exact(workload.record_length_bytes))


def plan_datasize(workload: TrainingWorkload, client_memory_bytes: int, num_accelerators: int) -> DatasizePlan:
    """The smallest dataset the rules accept. client_memory_bytes = measured MemTotal summed once per host."""
    _positive_int("client memory (bytes)", client_memory_bytes)
    _positive_int("number of accelerators", num_accelerators)
    by_mem = files_by_memory(client_memory_bytes, workload)
    by_steps = files_by_steps(num_accelerators, workload)
    required = max(math.ceil(by_mem), math.ceil(by_steps))
    return DatasizePlan(
        model=workload.model, accelerator=workload.accelerator, num_accelerators=num_accelerators,
        client_memory_bytes=client_memory_bytes, num_samples_per_file=workload.num_samples_per_file,
        record_length_bytes=workload.record_length_bytes, batch_size=workload.batch_size,
        files_by_mem=float(by_mem), files_by_steps=float(by_steps), num_files_train=required,
        num_subfolders_train=num_subfolders_train(required),
        total_disk_bytes=total_disk_bytes(required, workload),
    )


def memory_from_gib(per_host_gib: float, num_hosts: int) -> int:
    """Declared memory (v2.0 datasize inputs): GiB per host x hosts, in whole bytes."""
    if (isinstance(per_host_gib, bool) or not isinstance(per_host_gib, int | float)
            or not math.isfinite(per_host_gib) or per_host_gib <= 0):
        raise UserError(f"client host memory must be a positive number of GiB, got {per_host_gib!r}")
    _positive_int("number of client hosts", num_hosts)
    return math.floor(_exact(per_host_gib) * GIB * num_hosts)


def accepted_minimum(required: int, rules_edition: str) -> int:
    """The smallest num_files_train a verifier accepts: v3.0 trees get "ceil - 1" (rule book §3.1.2;
    the v3.0 validator tolerated it for datasize leaves of tools that floor-divided)."""
    return required - 1 if rules_edition in FLOOR_TOLERANT_EDITIONS else required


@dataclass(frozen=True)
class DatasizeCheck:
    ok: bool
    rule_id: str
    required: int
    actual: int
    accepted_minimum: int
    rule_text: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def check_user_value(plan: DatasizePlan, user_num_files: int, rules_edition: str | None = None) -> DatasizeCheck:
    """Is a user's num_files_train big enough? Planning (rules_edition None) requires the ceiling;
    verifying a tree of a floor-tolerant edition accepts one file less."""
    _positive_int("num_files_train", user_num_files)
    floor_ok = accepted_minimum(plan.num_files_train, rules_edition) if rules_edition else plan.num_files_train
    ok = user_num_files >= floor_ok
    if ok:
        message = (f"{RULE_ID}: num_files_train {user_num_files} meets the minimum {plan.num_files_train} "
                   f"for {plan.model}/{plan.accelerator} with {plan.num_accelerators} accelerators")
    else:
        message = (f"{RULE_ID}: num_files_train {user_num_files} is below the minimum {plan.num_files_train} "
                   f"for {plan.model}/{plan.accelerator} with {plan.num_accelerators} accelerators and "
                   f"{plan.client_memory_bytes / GIB:.2f} GiB of client memory; use at least "
                   f"{plan.num_files_train} files (or declare an open/invalid run)")
    return DatasizeCheck(ok=ok, rule_id=RULE_ID, required=plan.num_files_train, actual=user_num_files,
                         accepted_minimum=floor_ok, rule_text=RULE_TEXT, message=message)


# ---------------------------------------------------------------------------------------------
# Placement: SYS-ACCEL-EQUAL and SYS-HOST-RAM-PER-ACCEL

def split_accelerators(num_accelerators: int, num_hosts: int) -> list[int]:
    """Ranks per host as mpirun places them: even split, remainder on the first hosts. The split
    itself has its home in the mpirun argv builder (module_utils), so plan and launch agree."""
    _positive_int("number of accelerators", num_accelerators)
    _positive_int("number of hosts", num_hosts)
    if num_accelerators < num_hosts:
        raise UserError(f"{num_accelerators} accelerators cannot be placed on {num_hosts} hosts: every host "
                        f"needs at least one rank; use at least {num_hosts} accelerators or fewer hosts")
    return [ranks for _, ranks in placement(num_accelerators, [f"host{i}" for i in range(num_hosts)])]


def is_equal_split(counts: list[int]) -> bool:
    """SYS-ACCEL-EQUAL: training needs the same number of ranks on every host."""
    return len(set(counts)) <= 1


def host_memory_needed(accelerators_on_host: int) -> int:
    """Host RAM the simulated accelerators themselves need, before any page cache."""
    return accelerators_on_host * HOST_MEMORY_PER_ACCELERATOR_BYTES


def max_accelerators_for_memory(host_memory_bytes: int) -> int:
    return host_memory_bytes // HOST_MEMORY_PER_ACCELERATOR_BYTES
