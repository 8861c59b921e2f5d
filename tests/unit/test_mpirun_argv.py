"""mpirun argv builder (module_utils/mlps_mpirun.py)."""

import pytest

from mlps_module_utils.mlps_mpirun import MpirunError, build_argv, placement, slurm_env, slurm_mpi_plugins


def test_placement_splits_evenly_with_remainder_on_first_hosts():
    assert placement(8, ["a", "b"]) == [("a", 4), ("b", 4)]
    assert placement(200, [f"h{i}" for i in range(6)]) == [
        ("h0", 34), ("h1", 34), ("h2", 33), ("h3", 33), ("h4", 33), ("h5", 33)]
    assert placement(2, ["a", "b", "c"]) == [("a", 1), ("b", 1)]


@pytest.mark.parametrize("np, hosts", [(0, ["a"]), (2, [])])
def test_placement_rejects_impossible_requests(np, hosts):
    with pytest.raises(MpirunError):
        placement(np, hosts)


def test_openmpi_argv_has_slots_binding_root_mca_env_prefix_and_agent():
    argv = build_argv(["dlio_benchmark", "workload=unet3d_h100"], 5, ["h1", "h2"], mpirun="/v/bin/mpirun",
                      as_root=True, mca={"btl_tcp_if_include": "eth1"}, env=["PATH", "PYTHONPATH"],
                      rsh_agent="ssh -F /c/ssh_config", prefix="/v")
    assert argv[:5] == ["/v/bin/mpirun", "-np", "5", "--host", "h1:3,h2:2"]
    assert argv[argv.index("--map-by") + 1] == "slot:OVERSUBSCRIBE"
    assert argv[argv.index("--bind-to") + 1] == "none"
    assert "--allow-run-as-root" in argv
    assert argv[argv.index("--prefix") + 1] == "/v"
    assert argv[argv.index("plm_rsh_agent") - 1:][:3] == ["--mca", "plm_rsh_agent", "ssh -F /c/ssh_config"]
    assert argv[argv.index("btl_tcp_if_include") - 1:][:3] == ["--mca", "btl_tcp_if_include", "eth1"]
    assert argv[argv.index("PATH") - 1] == "-x" and argv[argv.index("PYTHONPATH") - 1] == "-x"
    assert argv[-2:] == ["dlio_benchmark", "workload=unet3d_h100"]


def test_run_as_root_flag_only_when_asked_and_no_oversubscribe_when_off():
    argv = build_argv(["true"], 2, ["localhost"], as_root=False, oversubscribe=False)
    assert "--allow-run-as-root" not in argv
    assert argv[argv.index("--map-by") + 1] == "slot"


def test_mpich_argv():
    argv = build_argv(["python", "x.py"], 3, ["a", "b"], implementation="mpich", env=["A", "B"],
                      rsh_agent="/usr/bin/ssh")
    assert argv[:5] == ["mpirun", "-n", "3", "-hosts", "a:2,b:1"]
    assert argv[argv.index("-genvlist") + 1] == "A,B"
    assert argv[argv.index("-launcher-exec") + 1] == "/usr/bin/ssh"
    assert argv[-2:] == ["python", "x.py"]


@pytest.mark.parametrize("kwargs, message", [
    ({"hosts": ["h1;rm -rf /"]}, "not a plain host name"),
    ({"env": ["BAD-NAME"]}, "not valid"),
    ({"implementation": "lam"}, "not supported"),
    ({"command": []}, "empty"),
])
def test_bad_input_is_refused(kwargs, message):
    args = {"command": ["true"], "np": 1, "hosts": ["h1"]}
    args.update(kwargs)
    command, np, hosts = args.pop("command"), args.pop("np"), args.pop("hosts")
    with pytest.raises(MpirunError, match=message):
        build_argv(command, np, hosts, **args)



def test_srun_argv_is_a_step_of_the_job_on_the_clients_with_the_same_split():
    argv = build_argv(["dlio_benchmark", "workload=unet3d_h100"], 5, ["h1", "h2"], launcher="srun",
                      srun="/usr/bin/srun", slurm_job="4242", env=["SECRET_TOKEN"], rsh_agent="ssh -F x", prefix="/v")
    assert argv[0] == "/usr/bin/srun" and argv[-2:] == ["dlio_benchmark", "workload=unet3d_h100"]
    assert "--mpi=pmix" in argv and "--jobid=4242" in argv
    assert argv[argv.index("--nodes") + 1] == "2" and argv[argv.index("--ntasks") + 1] == "5"
    assert argv[argv.index("--nodelist") + 1] == "h1,h2"
    assert argv[argv.index("--distribution") + 1] == "block"  # consecutive ranks per node, the extra on h1
    assert "--ntasks-per-node" not in argv  # 3 + 2 cannot be said per node
    assert "--overcommit" in argv and "--cpu-bind=none" in argv and "--overlap" in argv
    # mpirun's own options never reach srun: no -x (srun exports the environment), no agent, no prefix
    assert not {"-x", "SECRET_TOKEN", "--prefix", "--mca", "--allow-run-as-root"} & set(argv)


def test_srun_even_split_names_tasks_per_node_and_mpich_gets_pmi2():
    argv = build_argv(["true"], 6, ["a", "b", "c"], launcher="srun", implementation="mpich", oversubscribe=False)
    assert argv[argv.index("--ntasks-per-node") + 1] == "2"
    assert "--mpi=pmi2" in argv and "--overcommit" not in argv
    assert not any(a.startswith("--jobid") for a in argv)  # srun's own environment names the job
    assert "--mpi=pmi2" not in build_argv(["true"], 2, ["a"], launcher="srun", slurm_mpi="pmix")


def test_srun_only_uses_the_hosts_that_get_ranks():
    argv = build_argv(["true"], 2, ["a", "b", "c"], launcher="srun")
    assert argv[argv.index("--nodelist") + 1] == "a,b" and argv[argv.index("--nodes") + 1] == "2"


@pytest.mark.parametrize("kwargs, said", [
    ({"launcher": "pbsdsh"}, "launcher 'pbsdsh' is not supported"),
    ({"launcher": "srun", "slurm_job": "12; rm -rf /"}, "is not a job id"),
    ({"launcher": "srun", "slurm_mpi": "pmix --x"}, "is not a plugin name"),
    ({"launcher": "srun", "implementation": "mvapich"}, "openmpi or mpich"),
])
def test_bad_launch_settings_are_refused(kwargs, said):
    with pytest.raises(MpirunError, match=said):
        build_argv(["true"], 2, ["a"], **kwargs)


def test_the_mpi_plugins_srun_lists_are_read_with_pmix_versions():
    listing = ("MPI plugin types are...\n\tnone\n\tcray_shasta\n\tpmi2\n\tpmix\n"
               "specific pmix plugin versions available: pmix_v4\n")
    assert slurm_mpi_plugins(listing) == {"none", "cray_shasta", "pmi2", "pmix", "pmix_v4"}
    assert slurm_mpi_plugins("srun: MPI types are...\nsrun: none\nsrun: pmi2\n") == {"none", "pmi2"}
    assert slurm_mpi_plugins("srun: error: Invalid MPI type 'list'\n") == set()


def test_mpirun_in_an_allocation_starts_its_daemons_through_slurm_not_ssh():
    argv = build_argv(["true"], 5, ["h1", "h2"], mpirun="/v/bin/mpirun", slurm_job="4242", rsh_agent="ssh -F x",
                      mca={"btl": "tcp,self"})
    assert argv[argv.index("--host") + 1] == "h1:3,h2:2"
    mca = [argv[i + 1:i + 3] for i, a in enumerate(argv) if a == "--mca"]
    assert ["plm", "slurm"] in mca and ["btl", "tcp,self"] in mca
    assert "plm_rsh_agent" not in argv and "ssh -F x" not in argv
    # without a job the same call keeps the remote shell
    assert "plm_rsh_agent" in build_argv(["true"], 5, ["h1", "h2"], rsh_agent="ssh -F x")
    hydra = build_argv(["true"], 2, ["h1", "h2"], implementation="mpich", slurm_job="7", rsh_agent="ssh -F x")
    assert hydra[hydra.index("-launcher") + 1] == "slurm" and "-launcher-exec" not in hydra
    with pytest.raises(MpirunError, match="is not a job id"):
        build_argv(["true"], 2, ["h1"], slurm_job="7 --x")


def test_the_job_environment_names_only_the_launch_hosts_and_their_ranks():
    env = slurm_env(5, ["h1", "h2", "h3"], "4242")
    assert env["SLURM_JOB_ID"] == env["SLURM_JOBID"] == "4242"
    assert env["SLURM_JOB_NODELIST"] == env["SLURM_NODELIST"] == "h1,h2,h3"
    assert env["SLURM_TASKS_PER_NODE"] == "2,2,1" and env["SLURM_NNODES"] == "3"
    assert slurm_env(2, ["h1", "h2", "h3"], "9")["SLURM_NODELIST"] == "h1,h2"   # h3 gets no rank
