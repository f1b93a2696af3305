# make install  - create .venv and install the pinned stack (mmcv built from source once, then cached)
# make test     - install, print the stack's versions, run the test suite
# make demo     - install, then run the main job end to end (see README.md)
# Variables: VENV, PYTHON, TORCH_SPEC, GEOSPATIAL_MM_CACHE, GEOSPATIAL_MM_MMCV_CUDA (see tools/install/install.sh)
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
export VENV

.PHONY: install test demo clean

install:
	bash tools/install/install.sh

test: install
	$(PY) tools/install/check_stack.py
	$(VENV)/bin/pytest tests $(PYTEST_ARGS)

demo: install
	bash tools/demo.sh

clean:
	rm -rf build geospatial_mm.egg-info work_dirs demo_out .pytest_cache
