# Set-up and the two everyday commands. Everything runs from the project's own virtualenv.
#   make demo   # creates .venv if needed, runs the pipeline on the embedded default
#   make test   # creates .venv if needed, runs the default test suite
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench

# torch is installed first and pinned: 2.13.0 is the CPU build on this machine's disk; an
# unpinned torch would download a multi-GB CUDA build (ENVIRONMENT.md).
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tgrd run --config configs/demo.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check tgrd tests bench jobs
	$(VENV)/bin/ruff format --check tgrd tests bench jobs

bench: $(STAMP)
	$(VENV)/bin/python bench/bench_gates.py
