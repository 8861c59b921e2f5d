"""`mlps slurm submit` runs a playbook as a Slurm batch job on an allocation that is its inventory;
`mlps slurm record` writes a job's scontrol view and sacct accounting beside the results."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mlps.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    parser = sub.add_parser("slurm", help="run a campaign as a Slurm job, record a job",
                            description="Campaigns on Slurm clusters: the allocation is the inventory.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    submit = verbs.add_parser(
        "submit", help="submit a playbook as a batch job",
        usage="mlps slurm submit PLAYBOOK [options] -- [ANSIBLE_ARGS]",
        description="Write a job folder under RESULTS/slurm/ (batch script, the allocation's inventory, Slurm's "
                    "output, and the job's record when it ends) and submit the playbook with sbatch. Everything "
                    "after -- goes to ansible-playbook. Exit: 0 submitted (with --wait: the playbook's code), "
                    "2 bad input, 4 sbatch refused or missing.")
    submit.add_argument("playbook", help="the playbook, for example playbooks/run_training.yml")
    submit.add_argument("-N", "--nodes", type=int, default=1, help="nodes to allocate (the clients)")
    submit.add_argument("-p", "--partition", help="Slurm partition")
    submit.add_argument("-t", "--time", dest="time_limit", help="time limit, for example 1:00:00")
    submit.add_argument("-A", "--account", help="Slurm account")
    submit.add_argument("--results", type=Path, default=ROOT / "results",
                        help="results tree the job folder goes under (default: %(default)s)")
    submit.add_argument("--inventory-config", type=Path,
                        help="your mlps_slurm inventory file (host_vars such as ansible_user); default: the "
                             "allocation's nodes with no more variables")
    submit.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                        help="one more sbatch argument, such as --exclusive (repeat for more)")
    submit.add_argument("--sbatch", default="sbatch", help="the sbatch command (default: %(default)s)")
    submit.add_argument("--wait", action="store_true", help="return when the job ends, with its exit code")
    submit.set_defaults(func=_submit, passes_on=[])
    rec = verbs.add_parser("record", help="write a job's scontrol view and sacct accounting into a folder",
                           description="Run by the batch script when the playbook ends (and by submit --wait "
                                       "when the job has ended). Writes the file once; never overwrites.")
    rec.add_argument("--job", required=True, help="the job id")
    rec.add_argument("--into", required=True, type=Path, help="the job folder")
    rec.add_argument("--rc", type=int, help="the playbook's exit code")
    rec.add_argument("--name", default="slurm_job.json", help="file name (default: %(default)s)")
    rec.set_defaults(func=_record)
    parser.set_defaults(func=lambda _args: parser.print_help(sys.stderr) or 2)


def _submit(args) -> int:
    from mlps.slurm import job  # noqa: PLC0415 - only this command needs it

    playbook = Path(args.playbook).absolute()
    job.check_request(playbook, args.nodes, args.partition, args.time_limit, args.account)
    inventory = job.inventory_text(args.inventory_config)
    sbatch = shutil.which(args.sbatch)
    if not sbatch:
        raise UserError(f"--sbatch {args.sbatch}: not found on PATH; install Slurm's client commands (slurm-client) "
                        "or give the path of sbatch", exit_code=4)
    job_dir = job.make_job_dir(args.results.absolute(), playbook)
    job.write_job_files(job_dir, inventory)
    bin_dir = Path(sys.executable).parent
    argv = job.sbatch_argv(sbatch=sbatch, job_dir=job_dir, workdir=ROOT, playbook=playbook, nodes=args.nodes,
                           partition=args.partition, time_limit=args.time_limit, account=args.account,
                           wait=args.wait, sbatch_args=args.sbatch_arg, playbook_args=args.passes_on)
    job_id, rc = job.submit(argv, job.job_environment(job_dir, bin_dir, ROOT))
    print(f"submitted job {job_id}: {playbook.name} on {args.nodes} node(s); folder {job_dir}")
    if not args.wait:
        return 0
    job.record(job_id, job_dir, rc, name="slurm_job_end.json")
    print(f"job {job_id} ended with {rc}; Slurm's output: {job_dir / f'slurm-{job_id}.out'}")
    return rc


def _record(args) -> int:
    from mlps.slurm import job  # noqa: PLC0415

    print(f"wrote {job.record(args.job, args.into, args.rc, name=args.name)}")
    return 0
