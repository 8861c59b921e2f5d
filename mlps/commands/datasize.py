"""`mlps datasize`: the minimum training dataset for a workload (TRAIN-DATASIZE, rule book §3.1.2)."""

from __future__ import annotations

import json

from mlps import cluster as cluster_model
from mlps.errors import UserError
from mlps.plan import datasize
from mlps.rulebook.workloads import get_training_workload


def register(sub) -> None:
    parser = sub.add_parser(
        "datasize", help="minimum num_files_train for a training workload (5x memory, 500 steps per epoch)",
        description="Compute num_files_train, num_subfolders_train and total bytes by the rules. Memory comes "
                    "from --client-host-memory-gib x --num-client-hosts, or measured from --cluster-info.")
    parser.add_argument("--model", required=True, help="training model, e.g. unet3d")
    parser.add_argument("--accelerator", required=True, help="emulated accelerator, e.g. h100")
    parser.add_argument("--num-accelerators", required=True, type=int, metavar="N",
                        help="simulated accelerators (DLIO ranks) in the run")
    parser.add_argument("--client-host-memory-gib", type=float, metavar="GIB",
                        help="memory of one client host in GiB (declared)")
    parser.add_argument("--num-client-hosts", type=int, metavar="H", help="client hosts (with the option above)")
    parser.add_argument("--cluster-info", metavar="FILE", help="cluster_info.json: use the measured memory")
    parser.add_argument("--num-files-train", type=int, metavar="N",
                        help="check a planned value against the minimum (exit 1 if it is below)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=_run)


def _memory(args) -> tuple[int, int | None, str]:
    """(total client memory bytes, number of hosts or None, where it came from)."""
    if args.cluster_info:
        if args.client_host_memory_gib is not None or args.num_client_hosts is not None:
            raise UserError("--cluster-info gives the memory; drop --client-host-memory-gib/--num-client-hosts")
        info = cluster_model.read_cluster_info(args.cluster_info)
        if not info.memory_complete:
            missing = [h.hostname for h in info.hosts if h.memory_total_bytes is None]
            raise UserError(f"{args.cluster_info}: MemTotal unknown on {', '.join(missing) or 'every host'}; "
                            f"collect facts again before planning")
        return info.total_memory_bytes, info.num_hosts, f"measured ({args.cluster_info})"
    if args.client_host_memory_gib is None or args.num_client_hosts is None:
        raise UserError("give --client-host-memory-gib and --num-client-hosts, or --cluster-info FILE")
    total = datasize.memory_from_gib(args.client_host_memory_gib, args.num_client_hosts)
    return total, args.num_client_hosts, "declared"


def _run(args) -> int:
    workload = get_training_workload(args.model, args.accelerator)
    if args.num_accelerators is None or args.num_accelerators <= 0:
        raise UserError(f"--num-accelerators must be a positive whole number, got {args.num_accelerators}")
    memory, hosts, source = _memory(args)
    plan = datasize.plan_datasize(workload, memory, args.num_accelerators)
    out = {"plan": plan.to_dict(), "memory_source": source, "num_client_hosts": hosts}
    if hosts:
        split = datasize.split_accelerators(args.num_accelerators, hosts)
        out["accelerators_per_host"] = split
        out["equal_split"] = datasize.is_equal_split(split)
    check = None
    if args.num_files_train is not None:
        check = datasize.check_user_value(plan, args.num_files_train)
        out["check"] = check.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print_plan(workload, plan, source, hosts, out)
        if check is not None:
            print(f"check                 {'OK' if check.ok else 'BELOW MINIMUM'}: {check.message}")
    return 0 if check is None or check.ok else 1


def _print_plan(workload, plan, source, hosts, out) -> None:
    gib = datasize.GIB
    per_host = f" over {hosts} hosts" if hosts else ""
    print(f"workload              {workload.model}/{workload.accelerator} ({workload.format}, "
          f"samples/file {workload.num_samples_per_file}, record {workload.record_length_bytes} B, "
          f"batch {workload.batch_size})")
    print(f"client memory         {plan.client_memory_bytes} B = {plan.client_memory_bytes / gib:.2f} GiB "
          f"{source}{per_host if hosts != 1 else ' on 1 host'}")
    print(f"accelerators          {plan.num_accelerators}"
          + (f" (per host {out['accelerators_per_host']})" if hosts else ""))
    if hosts and not out["equal_split"]:
        print(f"warning               SYS-ACCEL-EQUAL: {plan.num_accelerators} accelerators do not split evenly "
              f"over {hosts} hosts; training needs the same count on every host")
    print(f"files_by_mem          {plan.files_by_mem:.2f} (5 x memory / (samples/file x record length))")
    print(f"files_by_steps        {plan.files_by_steps:.2f} (500 steps x accelerators x batch / samples/file)")
    print(f"num_files_train       {plan.num_files_train} ({plan.dominant_term} dominates)")
    print(f"num_subfolders_train  {plan.num_subfolders_train}")
    print(f"total_disk_bytes      {plan.total_disk_bytes} ({plan.total_disk_bytes / gib:.1f} GiB)")
