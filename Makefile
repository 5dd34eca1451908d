# Watch It Train: the two commands a newcomer needs are `make demo` and `make test`.
# Everything is installed into .venv from constraints.txt, once; later runs reuse it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup system-deps demo test test-autograder test-project data bench notebooks clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt "setuptools<81" wheel
	$(PIP) install -q -c constraints.txt --no-build-isolation -e ".[all,dev,notebooks]"
	# visdom 0.2.4's sdist imports pkg_resources at build time (see constraints.txt).
	$(PIP) install -q -c constraints.txt --no-build-isolation visdom
	touch $@

system-deps:
	@bash tools/install_system_deps.sh

demo: setup
	$(BIN)/watchtrain demo

test: setup test-autograder test-project

test-autograder: setup
	$(BIN)/python -m pytest autograder --solutions

test-project: setup
	$(BIN)/python -m pytest tests

data: setup
	$(BIN)/watchtrain data build-mini

# Medians of the grading and logging timings on this machine -> benchmarks/results.json (not a test).
bench: setup
	$(BIN)/python benchmarks/bench.py

# Regenerate lessons/*/lesson.ipynb from each lesson's README.md and exercise.py.
notebooks: setup
	$(BIN)/python -m watchtrain.notebooks

clean:
	rm -rf runs wandb test-artifacts
