# Two commands for users: `make demo` and `make test`. Both create .venv when missing
# (venv.mk; GPU users: `make demo TORCH=torch` or a CUDA-specific pin). The demo needs
# nothing beyond pip; the tests also need a few system packages, which `make test` installs
# (scripts/system-packages.sh).
include venv.mk

.PHONY: demo test test-fast system-packages bench venv notebooks release grade clean-results lab formgrader

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/iql-demo stitching --out results/stitching --runs-dir runs/stitching

# One torch thread per process: the suite runs trainings, kernels and graders side by side,
# and more threads than cores makes torch's small operations wait on each other
# (benchmarks/results/test_suite.md).
test test-fast: export OMP_NUM_THREADS = 1

# The whole suite: the fast tier on every core, then the tests marked slow (kernels,
# nbgrader, the browser, Ray, the sandbox) one at a time, as they share ports and users.
test: test-fast
	$(BIN)/python -m pytest -q -m slow tests

# Everything but the tests marked slow (notebooks in kernels, nbgrader, the browser, Ray,
# classes graded in the sandbox), one worker per core: a few minutes instead of about ten.
test-fast: system-packages $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n auto tests

system-packages:
	scripts/system-packages.sh

# The course in JupyterLab: students open notebooks/; runs go to runs/ (IQL_COURSE_FAST=1
# shrinks every budget). Instructors: Formgrader on the nbgrader course in course/,
# its exchange inside it, so generate, release, collect and autograde work from the UI.
# Neither shows Jupyter's news pop-up, the students' lab no instructor panels; both add
# --allow-root when run as root (iql_lib/course/lab.py).
lab: $(STAMP)
	$(BIN)/python -m iql_lib.course.lab notebooks

formgrader: $(STAMP)
	$(BIN)/python -m autograder.formgrader

# Student notebooks from the nbgrader sources in solutions/ (commit the result).
notebooks: $(STAMP)
	$(BIN)/python -m autograder.release notebooks

# The student bundle in dist/: notebooks, iql_lib with stubs, data, public tests.
release: $(STAMP)
	$(BIN)/python -m autograder.release bundle dist

# Instructors: grade SUBMISSIONS/<student>/*.ipynb into grades.csv, each student's graded
# cells in a bubblewrap sandbox; nbgrader's gradebook and feedback stay in grading/.
# GRADE_ARGS: e.g. --jobs 2, --timeout 120, --no-sandbox (trusted notebooks only).
grade: $(STAMP)
	$(BIN)/python -m autograder.grade $(SUBMISSIONS) --out grades.csv --course grading $(GRADE_ARGS)

# Speed benchmarks (minutes; installs d3rlpy into its own venv the first time).
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/wall_time.py
	$(BIN)/python benchmarks/datagen.py

clean-results:
	rm -rf results runs
