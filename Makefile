# The two commands a newcomer needs (README): `make demo` and `make test`.
# Both run the idempotent set-up first.
SHELL := /bin/bash
VENV := .venv/bin
export MENAGERIE_ROOT ?= $(abspath ../shared/data/mujoco_menagerie)
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export MUJOCO_GL ?= egl
# torch's idle OpenMP threads starve MuJoCo's worker threads otherwise.
export OMP_WAIT_POLICY ?= PASSIVE
DEMO_DIR ?= runs/demo

.PHONY: setup demo test test-slow test-isaaclab isaaclab-env lint format lock
setup:
	@bash scripts/setup.sh

# The embedded default: synthetic box push → track → retarget → train (DEMO_BUDGET_MIN
# minutes) → eval → export → deploy --sim → report (it prints the page's path). A re-run
# skips the stages whose inputs and options are unchanged.
DEMO_BUDGET_MIN ?= 20
demo: setup
	$(VENV)/h2s2r demo $(DEMO_DIR) --budget-min $(DEMO_BUDGET_MIN)

# pytest includes tests/test_layers.py: import-linter's contracts (pyproject.toml) on the
# installed tree, and the training path without the perception stack.
test: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/python -m pytest -q
	@if [ -f .venv-isaaclab/.h2s2r-setup-stamp ]; then $(MAKE) --no-print-directory test-isaaclab; \
	else echo "[test] Isaac Lab backend tests not run: no .venv-isaaclab (make isaaclab-env, about 8 GB; then make test-isaaclab)"; fi

# The Isaac Lab backend (--backend isaaclab): its own environment (Python 3.12, Isaac Lab 3
# kit-less on Newton; about 8 GB) and its tests (about 6 min on 2 cores, the first run
# adds about a minute of Warp kernel compilation). `make test` runs them only where
# .venv-isaaclab already exists: CI's clean clone does not download 8 GB for them.
isaaclab-env: setup
	@bash scripts/isaaclab_env.sh

test-isaaclab: isaaclab-env
	.venv-isaaclab/bin/python -m pytest -q -p no:cacheprovider tests/isaaclab

test-slow: setup
	$(VENV)/python -m pytest -q -m slow

lint: setup
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .

# Re-pin requirements.lock from the current .venv (after changing dependencies).
lock:
	$(VENV)/python scripts/lock.py > requirements.lock
