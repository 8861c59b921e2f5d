# Two commands on a fresh machine: `make demo` (the main job on localhost) and `make test`.
# Both set up what they need and are safe to repeat.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlps-installed
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (tests/conftest.py says what stays together)
TEST_WORKERS ?= 2

export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: venv system-deps demo test lint unit integration faults fuzz bench clean

# The controller venv, rebuilt only when its lock or the package metadata change.
$(STAMP): requirements/controller.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/controller.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

# Debian packages the multi-host test cluster needs (sshd, ip, slurm-wlm, munge). Skipped when already present.
system-deps:
	@bash tests/cluster/install_system_deps.sh

# One results folder per invocation (demo.yml picks it once for all its plays).
demo: venv
	$(BIN)/ansible-playbook -i inventory/localhost.ini playbooks/demo.yml


lint: venv
	$(BIN)/ruff check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production
	for p in playbooks/*.yml; do $(BIN)/ansible-playbook -i inventory/localhost.ini --syntax-check "$$p" >/dev/null || exit 1; done

unit: venv
	$(BIN)/pytest -q tests/unit tests/fuzz $(PYTEST_ARGS)

integration: venv system-deps
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

faults: venv system-deps
	$(BIN)/pytest -q tests/faults $(PYTEST_ARGS)

# The long fuzzing run (100,000 generated inputs; the suite runs a few hundred per target).
fuzz: venv
	$(BIN)/python benchmarks/bench_fuzz.py

# The suite on TEST_WORKERS workers, then the `serial` tests alone. Groups go out in the order
# tests/conftest.py sorts them (the longest first), not reordered by their number of tests.
test: venv system-deps lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder -m "not serial" tests $(PYTEST_ARGS)
	$(BIN)/pytest -q -m serial tests $(PYTEST_ARGS)

bench: venv system-deps
	for b in benchmarks/*.py; do $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
