# Watch It Train: the two commands a newcomer needs are `make demo` and `make test`.
# Everything is installed into .venv from constraints.txt, once; later runs reuse it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VISDOM_WEB := $(VENV)/.visdom-web
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# .venv starts without pip (see $(STAMP)); the fallbacks give it one first.
ENSURE_PIP := $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
# `make setup TORCH=cpu` (on a fresh clone, or after `rm -rf .venv`): PyTorch's CPU-only build from
# PyTorch's own index, without the CUDA libraries. The default is the build constraints.txt pins from
# PyPI, with CUDA on Linux, which CI installs. Where the CPU index is out of reach, the default is used.
TORCH  ?= default
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
VENV_CACHE ?= on
VENV_KEPT := $(VENV)/.kept
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup venv-install system-deps demo test test-autograder test-project data bench notebooks clean

setup: $(STAMP) system-deps $(VISDOM_WEB) $(VENV_KEPT)

# A fresh clone first looks for the .venv of an identical set-up, kept by tools/venv_cache.py as
# hard links (a second instead of 25 to 50 s, most of it compiling bytecode); `VENV_CACHE=off` skips it.
$(STAMP): pyproject.toml constraints.txt
	@[ "$(VENV_CACHE)" != off ] && $(PYTHON) tools/venv_cache.py restore $(VENV) --torch $(TORCH) \
	  || $(MAKE) --no-print-directory venv-install
	touch $@

venv-install:
	@# The venv starts without pip (ensurepip alone took 6 s). uv, pinned in constraints.txt, goes in
	@# with this machine's pip (`pip --python`, pip 22.3 and later) and then installs the rest, pip
	@# included. Where that fails, the venv gets its own pip (ensurepip), which installs uv, or else
	@# the course itself (a few minutes more).
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@$(PYTHON) -m pip --disable-pip-version-check --python $(BIN)/python install -q -c constraints.txt uv >/dev/null 2>&1 \
	  || { $(ENSURE_PIP); \
	       $(PIP) install -q -c constraints.txt uv 2>/dev/null; } \
	  || echo "note: uv could not be installed; pip installs the course instead (a few minutes more)"
	@# uv installs the same pins as pip would, but downloads and unpacks in parallel, and compiles the
	@# bytecode as pip does (without it, every process that imports torch compiles it again): a fresh
	@# clone's make setup took 80 s where pip took 200 s. visdom 0.2.4's sdist imports pkg_resources at
	@# build time: it needs "setuptools<81" in .venv and --no-build-isolation (see constraints.txt).
	@set -e; if $(BIN)/python -m uv --version >/dev/null 2>&1; \
	  then install="$(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python"; \
	  else $(ENSURE_PIP); install="$(PIP) install -q"; fi; \
	  echo "installing the course into $(VENV) with: $${install%% -q*}"; \
	  $$install -c constraints.txt "setuptools<81" wheel pip; \
	  if [ "$(TORCH)" = cpu ]; then $$install -c constraints.txt --index-url $(TORCH_CPU_INDEX) torch torchvision \
	    || echo "note: PyTorch's CPU index ($(TORCH_CPU_INDEX)) is out of reach; installing the default build"; fi; \
	  $$install -c constraints.txt --no-build-isolation -e ".[all,dev,notebooks]" visdom

system-deps:
	@bash tools/install_system_deps.sh

# Visdom's web page needs JS/CSS files that `python -m visdom.server` fetches from CDNs at every start;
# npm installs them once into visdom's static folder. Without npm (or its registry): a note, no stamp.
$(VISDOM_WEB): $(STAMP)
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "note: npm not found; Visdom's web page stays blank until: $(BIN)/watchtrain visdom --install-assets"; \
	elif $(BIN)/watchtrain visdom --install-assets; then touch $@; \
	else echo "warning: Visdom's web files were not installed (see above); the Python API works without them"; fi

# The finished .venv, kept for the next fresh clone of the same set-up (tools/venv_cache.py).
$(VENV_KEPT): $(VISDOM_WEB)
	@[ "$(VENV_CACHE)" = off ] || $(PYTHON) tools/venv_cache.py save $(VENV) --torch $(TORCH)
	@touch $@

demo: setup
	$(BIN)/watchtrain demo

# The reference solutions are graded inside tests/ (tests/test_reference_and_stubs.py), beside the rest.
test: setup test-project

# The autograder alone on the reference solutions; on a machine with a GPU, its CUDA twins too.
test-autograder: setup
	$(BIN)/python -m pytest autograder --solutions

test-project: setup
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --no-loadscope-reorder

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
