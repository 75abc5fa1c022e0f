# Two commands from a fresh clone:  make demo   and   make test
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python scripts/compile_kernels.py
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/csmri compare --accel 4,8 --center-fraction 0.08,0.06 -o demo_output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cs.py
	$(BIN)/python benchmarks/bench_unet.py

clean:
	rm -rf demo_output .pytest_cache
