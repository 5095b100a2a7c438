# Two commands for a new user: `make fit` (train on the embedded digits) and `make test`.
# Both create the virtual environment first when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU wheel on this machine; a GPU user installs their own CUDA torch first (see README).
TORCH_SPEC ?= torch==2.13.0
# escnn's 2D groups need these but not py3nj (which needs a Fortran compiler).
ESCNN_2D_DEPS := "numpy<2" lie-learn pymanopt autograd joblib scipy
CONFIG ?= configs/default.yaml
PYTEST_ARGS ?=

.PHONY: venv fit test lint bench grid report clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile scripts/deps.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q $(ESCNN_2D_DEPS)
	$(PIP) install -q --no-deps "escnn==1.0.11"
	$(PIP) install -q $(shell python3 scripts/deps.py escnn torch)
	$(PIP) install -q --no-deps -e .
	touch $@

fit: venv
	$(VENV)/bin/structured-ssl fit --config $(CONFIG)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check src tests benchmarks scripts

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) lightning_logs runs .pytest_cache
