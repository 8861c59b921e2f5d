"""mlps.inputs: every kind of user value refuses the hostile table and keeps the ordinary ones."""

from __future__ import annotations

import pytest

from mlps import inputs, preflight

HOSTILE = [";rm -rf /", "$(id)", "`id`", "a\nb", "a\x00b", "../../etc", "x" * 5000, "a b", "a|b", "a&b",
           "a>b", "'quoted'", '"quoted"', "${HOME}", "a\tb", ""]
HOSTILE_PATHS = ["/data/;rm -rf /", "/data/$(id)", "/data/`id`", "/data/a\nb", "/data/a\x00b", "/data/../../etc",
                 "/" + "x" * 5000, "/data/a b", "../../etc", "data/relative", "/data/" + "y" * 300, "/a/{b}", ""]


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_hostile_paths_are_refused_with_the_variable_named(value):
    problem = inputs.check_path("mlps_data_dir", value)
    assert problem is not None and problem.startswith("mlps_data_dir=")
    assert "expected an absolute path" in problem and "or with -e" in problem
    assert "\n" not in problem and "\x00" not in problem  # one line, whatever the value holds
    assert len(problem) < 400  # a 5000-character value is cut, not echoed


@pytest.mark.parametrize("value", ["/mnt/mlps/data", "/dev/shm/mlps-1", "/srv/results/run_2024-01-01",
                                   "/tmp/pytest-of-root/pytest-3/test_x0/results", "/a/b.c/d+e@f:g,h=i~j"])
def test_ordinary_paths_pass(value):
    assert inputs.check_path("mlps_data_dir", value) is None


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_are_refused(value):
    problem = inputs.check_plain_name("mlps_training_org", value)
    assert problem is not None and problem.startswith("mlps_training_org=") and "\n" not in problem


@pytest.mark.parametrize("value", ["unet3d", "llama3-8b", "h100", "closed", "mlps-system", "org.example", "a+b_c"])
def test_ordinary_names_pass(value):
    assert inputs.check_plain_name("model", value) is None


@pytest.mark.parametrize("value", [*HOSTILE, "-leading-dash", ".hidden"])
def test_hostile_hostnames_are_refused(value):
    problem = inputs.check_hostname("inventory host", value)
    assert problem is not None and "rename the host" in problem


@pytest.mark.parametrize("value", ["h1", "localhost", "node-01.example.org", "10.0.0.7", "fe80::1", "my_host"])
def test_ordinary_hostnames_pass(value):
    assert inputs.check_hostname("inventory host", value) is None


@pytest.mark.parametrize("value", HOSTILE[:-1])  # "" is a legitimate (empty) DLIO text value
def test_hostile_dlio_values_are_refused(value):
    problem = inputs.check_dlio_value("mlps_training_extra_overrides", "reader.x", value)
    assert problem is not None and problem.startswith("mlps_training_extra_overrides['reader.x']=")


@pytest.mark.parametrize("value", [8, 0.25, True, "npz", "pytorch", "/mnt/data/unet3d", "1e-3", ""])
def test_ordinary_dlio_values_pass(value):
    assert inputs.check_dlio_value("mlps_training_overrides", "reader.read_threads", value) is None


@pytest.mark.parametrize("key", [*HOSTILE, "reader..x", ".reader", "reader.", "1reader", 3])
def test_hostile_dlio_keys_are_refused(key):
    assert "expected a dotted DLIO key" in inputs.check_dlio_key("mlps_training_overrides", key)


def test_overrides_mapping_lists_every_problem_and_rejects_non_mappings():
    problems = inputs.check_dlio_overrides("mlps_training_extra_overrides",
                                           {"reader.read_threads": 4, "a;b": 1, "dataset.format": "$(id)"})
    assert len(problems) == 2
    assert "key 'a;b'" in problems[0] and "['dataset.format']='$(id)'" in problems[1]
    assert inputs.check_dlio_overrides("x", {"reader.nested": {"a": 1}})  # not a scalar
    assert inputs.check_dlio_overrides("x", "reader.read_threads=8")[0].startswith("x='reader.read_threads=8'")
    assert inputs.check_dlio_overrides("x", None) == []


def test_environment_names_are_checked_and_values_are_not():
    assert inputs.check_env_names("mlps_training_env", {"MY_TOKEN": "$(anything; goes) \n"}) == []
    (problem,) = inputs.check_env_names("mlps_training_env", {"A=B;id": "1"})
    assert problem.startswith("mlps_training_env: name 'A=B;id'")
    # the role hands over the names alone, so no secret value travels through a fact
    assert inputs.check_env_names("mlps_training_env", ["MY_TOKEN", "$(id)"]) == [
        problem.replace("'A=B;id'", "'$(id)'")]
    assert inputs.check_env_names("mlps_training_env", "A=1")[0].startswith("mlps_training_env='A=1'")


def test_host_problems_name_the_host_and_every_variable():
    problems = inputs.host_problems("h1", {
        "ansible_host": "10.0.0.1;id", "mlps_data_dir": "/d/../../etc", "mlps_results_dir": "/r",
        "mlps_venv": None, "mlps_preflight_model": "unet3d\n", "mlps_training_org": "../x",
        "mlps_training_overrides": {"reader.read_threads": "`id`"}, "mlps_training_env": {"OK": "1"}})
    assert [p.split("=")[0].split(":")[1].strip() for p in problems] == [
        "ansible_host", "mlps_data_dir", "mlps_preflight_model", "mlps_training_org",
        "mlps_training_overrides['reader.read_threads']"]
    assert all(p.startswith("h1: ") for p in problems)


def test_a_hostile_host_name_is_shown_escaped():
    (problem,) = inputs.host_problems("h1\nrm", {})
    assert problem.startswith("'h1\\nrm': inventory host=") and "\n" not in problem


def test_clean_inventory_has_no_problems():
    values = {"mlps_data_dir": "/mnt/mlps/data", "mlps_results_dir": "/srv/results", "mlps_venv": "/opt/mlps/venv",
              "mlps_preflight_model": "unet3d", "mlps_preflight_accelerator": "h100",
              "mlps_preflight_division": "closed",
              "mlps_training_org": "mlps", "mlps_training_system": "mlps-system",
              "mlps_training_overrides": {"reader.read_threads": 8}, "mlps_training_extra_overrides": {},
              "mlps_training_env": {"TF_CPP_MIN_LOG_LEVEL": "2"}}
    assert preflight.input_problems({"h1": values, "h2": values}) == []


def test_preflight_inventory_values_row_also_refuses_hostile_settings():
    problems = preflight.value_problems(preflight.Settings(model="$(id)", data_dir="/d;id", results_dir="/r"))
    assert len(problems) == 2
    assert problems[0].startswith("mlps_data_dir='/d;id'") and problems[1].startswith("model='$(id)'")
