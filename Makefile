# Two commands from a fresh clone:  make demo   and   make test   (and make docs for the manual)
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs lint setup bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"  # dev pulls every extra (csmri[all,docs])
	$(BIN)/python scripts/compile_kernels.py
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/csmri compare --accel 4,8 --center-fraction 0.08,0.06 -o demo_output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The manual: user guide, API and CLI reference, and a gallery whose scripts run during the
# build (a broken example fails it; -W turns every Sphinx warning into an error).
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cs.py
	$(BIN)/python benchmarks/bench_unet.py

clean:
	rm -rf demo_output .pytest_cache docs/_build docs/auto_examples
