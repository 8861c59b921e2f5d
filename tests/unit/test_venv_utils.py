"""Pure helpers of the client venv install (module_utils/mlps_venv.py)."""

import json

from mlps_module_utils import mlps_venv


def test_install_key_changes_with_every_input():
    base = mlps_venv.install_key(["lock a"], [], "openmpi", "pip")
    assert base == mlps_venv.install_key(["lock a"], [], "openmpi", "pip")
    assert base != mlps_venv.install_key(["lock b"], [], "openmpi", "pip")
    assert base != mlps_venv.install_key(["lock a"], ["dlio @ git+x"], "openmpi", "pip")
    assert base != mlps_venv.install_key(["lock a"], [], "mpich", "pip")
    assert base != mlps_venv.install_key(["lock a"], [], "openmpi", "system")
    assert base != mlps_venv.install_key(["lock", " a"], [], "openmpi", "pip")


def test_identify_mpi_from_launcher_and_library_strings():
    assert mlps_venv.identify_mpi("mpirun (Open MPI) 5.0.11") == "openmpi"
    assert mlps_venv.identify_mpi("Open MPI v4.1.4, package: Debian OpenMPI") == "openmpi"
    assert mlps_venv.identify_mpi("HYDRA build details:\n    Version: 4.2.0") == "mpich"
    assert mlps_venv.identify_mpi("MPICH Version:\t4.2.0") == "mpich"
    assert mlps_venv.identify_mpi("Intel(R) MPI Library 2021.10") == "intelmpi"
    assert mlps_venv.identify_mpi("") is None


def test_marker_must_match_schema_and_key():
    good = json.dumps({"schema": mlps_venv.MARKER_SCHEMA, "key": "k"})
    assert mlps_venv.marker_matches(good, "k")
    assert not mlps_venv.marker_matches(good, "other")
    assert not mlps_venv.marker_matches("{not json", "k")
    assert not mlps_venv.marker_matches(None, "k")
    assert not mlps_venv.marker_matches(json.dumps(["k"]), "k")


def test_extra_specs_only_when_the_lock_does_not_pin_it():
    entries = [{"key": "dlio-benchmark", "version": "2.0.0"}]
    assert mlps_venv.extra_specs("dlio_benchmark==2.0.0", entries) == []
    assert mlps_venv.extra_specs("dlio_benchmark==2.1.0", entries) == ["dlio_benchmark==2.1.0"]
    spec = "dlio_benchmark @ git+https://github.com/mlcommons/DLIO_local_changes@main"
    assert mlps_venv.extra_specs(spec, entries) == [spec]
    assert mlps_venv.extra_specs("", entries) == []


def test_pip_argv_requires_hashes_only_when_all_are_hashed():
    argv = mlps_venv.pip_install_argv("/v/bin/python", ["/l/a.lock", "/l/b.lock"], True, ["--index-url", "x"])
    assert argv[:4] == ["/v/bin/python", "-m", "pip", "install"]
    assert "--no-deps" in argv and "--require-hashes" in argv
    assert argv[-6:] == ["-r", "/l/a.lock", "-r", "/l/b.lock", "--index-url", "x"]
    assert "--require-hashes" not in mlps_venv.pip_install_argv("p", ["a"], False, [])


def test_python_version_of_lock_header():
    assert mlps_venv.python_version_of("3.11.7") == (3, 11)
    assert mlps_venv.python_version_of(None) is None


def test_venv_state_tells_ours_from_any_other_folder(tmp_path):
    assert mlps_venv.venv_state(str(tmp_path / "none")) == "missing"
    (tmp_path / "empty").mkdir()
    assert mlps_venv.venv_state(str(tmp_path / "empty")) == "empty"
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes").write_text("x")
    assert mlps_venv.venv_state(str(home)) == "foreign"
    (home / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert mlps_venv.venv_state(str(home)) == "foreign"  # a venv, but not one we built
    (home / mlps_venv.MARKER_NAME).write_text(json.dumps({"schema": "other/1"}))
    assert mlps_venv.venv_state(str(home)) == "foreign"
    (home / mlps_venv.MARKER_NAME).write_text(json.dumps({"schema": mlps_venv.MARKER_SCHEMA, "key": "k"}))
    assert mlps_venv.venv_state(str(home)) == "ours"
    (tmp_path / "link").symlink_to(home)
    assert mlps_venv.venv_state(str(tmp_path / "link")) == "foreign"


def test_relocate_scripts_points_shebangs_at_the_final_path(tmp_path):
    built, final = "/opt/mlps/venv.mlps-new-x1y2", "/opt/mlps/venv"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dlio_benchmark").write_text(f"#!{built}/bin/python\nimport sys\n")
    (bin_dir / "dlio_benchmark").chmod(0o755)
    (bin_dir / "activate").write_text(f'VIRTUAL_ENV="{built}"\n')
    (bin_dir / "mpirun").write_bytes(b"\x7fELF\0" + built.encode())  # a binary is left alone
    (bin_dir / "python").symlink_to("/usr/bin/python3")
    assert mlps_venv.relocate_scripts(str(bin_dir), built, final) == ["activate", "dlio_benchmark"]
    assert (bin_dir / "dlio_benchmark").read_text().startswith(f"#!{final}/bin/python\n")
    assert (bin_dir / "dlio_benchmark").stat().st_mode & 0o777 == 0o755
    assert (bin_dir / "activate").read_text() == f'VIRTUAL_ENV="{final}"\n'
    assert built.encode() in (bin_dir / "mpirun").read_bytes()
