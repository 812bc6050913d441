# Two commands for users: `make demo` and `make test`. Both create .venv when missing.
# TORCH is the torch requirement installed before the package; the default is the CPU
# build. GPU users: `make demo TORCH=torch` (or a CUDA-specific pin).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv notebooks release grade clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/iql-demo stitching --out results/stitching --runs-dir runs/stitching

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Student notebooks from the nbgrader sources in solutions/ (commit the result).
notebooks: $(STAMP)
	$(BIN)/python -m autograder.release notebooks

# The student bundle in dist/: notebooks, iql_lib with stubs, data, public tests.
release: $(STAMP)
	$(BIN)/python -m autograder.release bundle dist

# Instructors: autograde SUBMISSIONS/<student>/*.ipynb into grades.csv.
grade: $(STAMP)
	$(BIN)/python -m autograder.grade $(SUBMISSIONS) --out grades.csv

# Speed benchmarks (minutes; installs d3rlpy into its own venv the first time).
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/wall_time.py

clean-results:
	rm -rf results runs
