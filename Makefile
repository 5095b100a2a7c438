# Two commands for a new user: `make fit` (train on the embedded digits) and `make test`.
# Both create the virtual environment first when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU wheel on this machine; a GPU user installs their own CUDA torch first (docs/getting-started.md).
TORCH_SPEC ?= torch==2.13.0
# escnn's 2D groups need these but not py3nj (which needs a Fortran compiler).
ESCNN_2D_DEPS := "numpy<2" lie-learn pymanopt autograd joblib scipy
CONFIG ?= configs/default.yaml
# Versions the suite passed with (pip -c); `make venv CONSTRAINTS=` installs the newest instead.
CONSTRAINTS ?= constraints.txt
PIP_C := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
PYTEST_ARGS ?=
# pytest-xdist: one worker per core; a test file stays on one worker (its module fixtures, e.g. a
# shared fit, run once). `make test PYTEST_JOBS=0` runs in one process.
PYTEST_JOBS ?= auto

.PHONY: venv fit test lint docs bench grid report clean tables notebook

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile scripts/deps.py $(CONSTRAINTS)
	test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(PY) is Python $$($(PY) -c 'import platform; print(platform.python_version())'); structured-ssl is tested on Python 3.11+"; exit 1; }
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q $(PIP_C) $(ESCNN_2D_DEPS)
	$(PIP) install -q --no-deps "escnn==1.0.11"
	$(PY) scripts/deps.py escnn torch > $(VENV)/requirements.txt
	$(PIP) install -q $(PIP_C) -r $(VENV)/requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

fit: venv
	$(VENV)/bin/structured-ssl fit --config $(CONFIG)

test: venv
	$(PY) -m pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# The same checks as .pre-commit-config.yaml: lint, formatting, types of the package.
lint: venv
	$(PY) -m ruff check src tests benchmarks scripts
	$(PY) -m ruff format --check src tests benchmarks scripts
	$(PY) -m mypy

# The documentation site at http://127.0.0.1:8000 (rebuilds on save); `mkdocs build --strict` builds it.
docs: venv
	PYTHONPATH=src $(VENV)/bin/mkdocs serve

bench: venv
	$(PY) benchmarks/run_all.py

# notebooks/compare_baselines.ipynb executed with its outputs (small fixed settings, ~1 min on
# a CPU); tests/project/test_notebook.py fails when the committed outputs are older than its code cells.
notebook: venv
	$(PY) scripts/run_notebook.py

clean:
	rm -rf $(VENV) lightning_logs runs .pytest_cache site

# The paper's grid on the embedded digits (3 seeds), its parameter studies, and the report
# beside the paper's Tables 1-2 and Figure 2. Resumable: finished runs are skipped.
# Add options with GRID_ARGS / STUDY_ARGS, e.g. GRID_ARGS="--epochs 5 --jobs 2".
.PHONY: study
GRID_OUT ?= results/grid-digits
STUDY_OUT ?= results/study-digits
GRID_ARGS ?=
STUDY_ARGS ?=

grid: venv
	$(VENV)/bin/structured-ssl grid --dataset digits --objectives augmentation structured unstructured frozen supervised --groups rotation translation scale --seeds 0 1 2 --out $(GRID_OUT) $(GRID_ARGS)

study: venv
	$(VENV)/bin/structured-ssl study g0_size --values 1 2 3 4 --group rotation --seeds 0 1 2 --out $(STUDY_OUT)/g0_size $(STUDY_ARGS)
	$(VENV)/bin/structured-ssl study max_distance --values 0 1 2 3 4 --group rotation --seeds 0 1 2 --out $(STUDY_OUT)/max_distance $(STUDY_ARGS)
	$(VENV)/bin/structured-ssl study order --values 4 8 16 --group rotation --seeds 0 1 2 --out $(STUDY_OUT)/order $(STUDY_ARGS)

# One of the paper's tables at its recipe on the GPUs torch sees (the digits grid on a CPU),
# then the report beside the paper's values: make paper-table TABLE=1 DATASET=mnist
TABLE ?= 1
DATASET ?= mnist
.PHONY: paper-table
paper-table: venv
	$(VENV)/bin/structured-ssl reproduce --table $(TABLE) --dataset $(DATASET)

report: venv
	$(VENV)/bin/structured-ssl report $(GRID_OUT) --studies $(STUDY_OUT)/g0_size $(STUDY_OUT)/max_distance $(STUDY_OUT)/order
