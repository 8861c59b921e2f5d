"""`mlps configview`: the fully merged DLIO workload configuration, before anything runs."""

from __future__ import annotations

from mlps.campaign import training
from mlps.errors import UserError
from mlps.plan import configview
from mlps.rulebook.workloads import get_training_workload


def register(sub) -> None:
    parser = sub.add_parser(
        "configview", help="print the merged DLIO configuration of a training workload (template + overrides)",
        description="Apply the overrides a campaign would pass (++workload.<key>=<value>) to the workload's "
                    "template under configs/dlio and print the result as YAML.")
    parser.add_argument("--model", required=True, help="training model, e.g. unet3d")
    parser.add_argument("--accelerator", required=True, help="emulated accelerator, e.g. h100")
    parser.add_argument("--datagen", action="store_true", help="the datagen workload instead of the run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dotted DLIO override such as reader.read_threads=8 (repeatable)")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    workload = get_training_workload(args.model, args.accelerator)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE such as reader.read_threads=8")
        overrides[key] = value
    training.check_overrides({}, overrides)
    name = workload.datagen_config_name if args.datagen else workload.config_name
    print(configview.render(name, overrides), end="")
    return 0
