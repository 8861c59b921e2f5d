"""`mlps ckpt-plan`: per-rank checkpoint shards of a llama3 model (DLIO's base_checkpointing.py); `--json` is the native
engine's `--plan` input."""

from __future__ import annotations

import json

from mlps.errors import UserError
from mlps.plan.checkpoint import ENGINES, GIB, plan_checkpoint


def register(sub) -> None:
    parser = sub.add_parser(
        "ckpt-plan", help="per-rank checkpoint shard sizes and files for a llama3 model",
        description="Compute what each rank writes per checkpoint (TP x PP split, ZeRO over DP), the files, the "
                    "bytes per checkpoint and per host, whether caches must be dropped between writes and "
                    "reads, and why the run would be OPEN or INVALID.")
    parser.add_argument("--model", required=True, help="llama3-8b, llama3-70b, llama3-405b or llama3-1t")
    parser.add_argument("--processes", required=True, type=int, metavar="N", help="MPI ranks (simulated GPUs)")
    parser.add_argument("--subset", action="store_true",
                        help="subset mode: the ranks write the first shards of the CLOSED layout")
    parser.add_argument("--scale", type=float, default=1.0, metavar="S",
                        help="multiply every shard by S in (0, 1] for small machines (any S != 1 is OPEN)")
    parser.add_argument("--engine", choices=ENGINES, default="dlio", help="engine that will run it (native is OPEN)")
    parser.add_argument("--hosts", metavar="H1,H2,...", help="client hosts, for the bytes per host")
    parser.add_argument("--host-memory-gib", type=float, metavar="GIB",
                        help="memory of one client host, for the 3x-memory cache rule")
    parser.add_argument("--json", action="store_true", help="print the full plan as JSON (the engine's --plan)")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()] if args.hosts else ["localhost"]
    memory = None
    if args.host_memory_gib is not None:
        if not args.host_memory_gib > 0:
            raise UserError(f"--host-memory-gib={args.host_memory_gib}: expected a positive number of GiB")
        memory = int(args.host_memory_gib * GIB)
    plan = plan_checkpoint(args.model, args.processes, subset=args.subset, scale=args.scale, engine=args.engine,
                           hosts=hosts, host_memory_bytes=memory)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=1))
        return 0
    _print(plan)
    return 0


def _print(plan) -> None:
    model = plan.model
    print(f"model                 {model.name} (TP {model.tensor_parallel} x PP {model.pipeline_parallel} x "
          f"DP {plan.data_parallel}, ZeRO-{model.zero_stage}{', subset mode' if plan.subset else ''})")
    print(f"processes             {plan.processes} (CLOSED: {model.closed_processes})")
    print(f"scale                 {plan.scale:g}")
    print(f"per checkpoint        {plan.total_bytes} B = {plan.checkpoint_size_gib:.4f} GiB in "
          f"{sum(len(r.files) for r in plan.ranks)} files")
    shapes: dict = {}
    for rank in plan.ranks:
        key = (rank.model_bytes, rank.optim_bytes, len(rank.files))
        shapes.setdefault(key, []).append(rank.rank)
    for (model_b, optim_b, files), ranks in sorted(shapes.items(), key=lambda item: item[1][0]):
        print(f"  {_ranks(ranks):<20}model {model_b} + optim {optim_b} = {model_b + optim_b} B, {files} files")
    for host, count in plan.hosts:
        print(f"host {host:<17}{count} ranks, {dict(plan.bytes_per_host())[host] / GIB:.4f} GiB per checkpoint")
    drop = plan.cache_drop_required()
    if drop is not None:
        print(f"cache drop            {'required between writes and reads' if drop else 'not required'} "
              f"(a host's checkpoint vs 3 x {plan.host_memory_bytes / GIB:.1f} GiB of memory)")
    print(f"division              {plan.division.upper()}")
    for reason in plan.invalid_reasons + plan.open_reasons:
        print(f"  - {reason}")


def _ranks(ranks: list[int]) -> str:
    """`0-7` for a contiguous run, else the first few."""
    if ranks == list(range(ranks[0], ranks[-1] + 1)):
        return f"ranks {ranks[0]}-{ranks[-1]}" if len(ranks) > 1 else f"rank {ranks[0]}"
    head = ",".join(map(str, ranks[:4]))
    return f"ranks {head},..({len(ranks)})" if len(ranks) > 4 else f"ranks {head}"
