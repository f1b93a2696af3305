# make install    - create .venv and install the pinned stack (mmcv-lite: nothing compiled; GEOSPATIAL_MM_MMCV=full
#                   builds mmcv with its compiled ops once, then caches it)
# make test       - install, print the stack's versions, run the whole test suite (what CI runs)
# make demo       - install, then run the main job end to end (see README.md)
# make develop    - as install, with geospatial_mm installed editable (edits take effect without reinstalling)
# make test-fast  - the unit tests (pytest -m "not slow and not slurm") in the existing environment, for the inner loop
# make lint       - ruff check . with the settings of pyproject.toml (make test and make test-fast run it first)
# make typecheck  - mypy with the settings of pyproject.toml: geospatial_mm/io, inference, export and apis, strictly
#                   (make test and make test-fast run it after make lint)
# make test-slurm - install, then the tests marked slurm (pytest -m slurm) on a one-node SLURM cluster on this machine
#                   (tools/slurm/local_cluster.py: root; installs Debian's slurm-wlm and munge where missing)
# Variables: VENV, PYTHON, TORCH_SPEC, GEOSPATIAL_MM_MMCV, GEOSPATIAL_MM_CACHE, GEOSPATIAL_MM_MMCV_CUDA (see
#            tools/install/install.sh); PYTEST_WORKERS (default auto: one per core), PYTEST_ARGS
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# test files spread over one pytest worker per core (pytest-xdist; a file's tests stay together, sharing its fixtures)
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadfile
export VENV

.PHONY: install develop test test-fast test-slurm lint typecheck demo clean

install:
	bash tools/install/install.sh

develop:
	GEOSPATIAL_MM_EDITABLE=1 bash tools/install/install.sh

test: install
	$(PY) tools/install/check_stack.py
	$(MAKE) lint
	$(MAKE) typecheck
	$(VENV)/bin/pytest tests -m "not slurm" $(XDIST) $(PYTEST_ARGS)

test-fast:
	@test -x $(PY) || { echo "no environment at $(VENV): run make develop first"; exit 1; }
	$(MAKE) lint
	$(MAKE) typecheck
	$(VENV)/bin/pytest tests -m "not slow and not slurm" $(XDIST) $(PYTEST_ARGS)

lint:
	@test -x $(VENV)/bin/ruff || { echo "no ruff at $(VENV)/bin/ruff: run make install or make develop"; exit 1; }
	$(VENV)/bin/ruff check .

typecheck:
	@test -x $(VENV)/bin/mypy || { echo "no mypy at $(VENV)/bin/mypy: run make install or make develop"; exit 1; }
	$(VENV)/bin/mypy

test-slurm: install
	$(VENV)/bin/pytest tests -m slurm $(PYTEST_ARGS)

demo: install
	bash tools/demo.sh

clean:
	rm -rf build geospatial_mm.egg-info work_dirs demo_out .pytest_cache .mypy_cache
