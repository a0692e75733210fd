# The two commands: `make sandbox` (the default) and `make test`.
# Each installs everything it needs first (apt packages, .venv, pip).
SHELL := /bin/bash
.DEFAULT_GOAL := sandbox
VENV := .venv
PY := $(VENV)/bin/python
# The sandbox of SANDBOX_RELEASE (bookworm unless set; trixie for Debian 13), as tests/sandbox names its
# state dir. make's $(shell) does not see variables set on make's command line: they are passed on.
SANDBOX_ENV = $(foreach name,SANDBOX_RELEASE SANDBOX_STATE,$(if $($(name)),$(name)=$($(name))))
SANDBOX_INVENTORY = $(shell $(SANDBOX_ENV) $(PY) -c 'from tests.sandbox.harness import state_dir; print(state_dir() / "inventory.py")')
INVENTORY ?= $(SANDBOX_INVENTORY)
APT_PACKAGES = $(shell grep -v '^\#' requirements-apt.txt)
DEPS_STAMP := $(VENV)/.deps-installed

.PHONY: sandbox test verify plan sandbox-down sandbox-status dr-drill deps compat-venvs bench-app

## Boot the disposable sandbox VPS (SANDBOX_RELEASE=trixie: Debian 13) and provision it fully with deploys/site.py.
sandbox: deps
	$(PY) -m tests.sandbox up
	$(VENV)/bin/pyinfra -y $(SANDBOX_INVENTORY) deploys/site.py
	$(PY) -m tests.sandbox status

## Every test tier on a fresh sandbox; the sandbox is torn down afterwards.
test: deps compat-venvs
	$(PY) -m tests.tiers $(COMPAT_PYTHONS)

## Read-only host checks against INVENTORY (default: the sandbox; INVENTORY=inventory.py for production);
## JUnit XML for CI in reports/verify.xml. -rN: the summary per concern ends the output, not a list of every failure.
verify: deps
	$(PY) -m pytest -m read_only_host_check tests/host --inventory=$(INVENTORY) --junitxml=reports/verify.xml -rN

## What deploys/site.py would change on INVENTORY, changing nothing: exit 0 nothing, 2 something, 1 error.
plan: deps
	$(PY) -m tools.plan $(INVENTORY)

## The disaster-recovery drill: data, backup, host destroyed and rebuilt, restore; prints the RTO.
dr-drill: sandbox
	$(PY) -m tests.drills.disaster_recovery

sandbox-down: deps
	$(PY) -m tests.sandbox down

sandbox-status: deps
	$(PY) -m tests.sandbox status

## Benchmarks: figures go to docs/performance.md.
bench-app: deps
	$(PY) -m tests.bench.app_bench

deps: $(DEPS_STAMP)

$(DEPS_STAMP): requirements.txt requirements-app-tests.txt app/requirements.txt requirements-apt.txt
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt  # it takes in requirements-app-tests.txt and app/requirements.txt
	touch $@

# The app also runs on Python 3.10, 3.12 and 3.13 (Ubuntu 22.04 and 24.04, Debian 13): tests/app runs
# on each, in .venv-pyX.Y, with the interpreter from the system or from pyenv; one neither has is
# installed from the machine's apt (python3.13-venv on Debian 13) when apt offers it.
COMPAT_PYTHONS := 3.10 3.12 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
python_for = $(firstword $(wildcard /usr/bin/python$(1) $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))

compat-venvs: $(foreach version,$(COMPAT_PYTHONS),.venv-py$(version)/.deps-installed)

# Order-only on deps: apt's lists are fresh before apt is asked for an interpreter.
.venv-py%/.deps-installed: requirements-app-tests.txt app/requirements.txt | $(DEPS_STAMP)
	@python="$(call python_for,$*)"; \
	if [ -z "$$python" ] && apt-cache show python$*-venv >/dev/null 2>&1; then \
	  echo "apt-get install python$*-venv"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python$*-venv && python=/usr/bin/python$*; fi; \
	if [ -z "$$python" ]; then \
	  echo "make: no Python $* (/usr/bin/python$*, $(PYENV_ROOT)/versions/$*.*/bin/python$* or apt's python$*-venv); the app is tested on it" >&2; \
	  exit 1; fi; \
	echo "$$python -m venv .venv-py$*"; $$python -m venv .venv-py$*
	.venv-py$*/bin/pip install -q -r requirements-app-tests.txt
	touch $@
