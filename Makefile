# Kura — `make help` lists the targets. Everything installs into .venv in this checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python is published as source only: build a portable wheel once and keep it here.
WHEELS := $(HOME)/.cache/kura/wheels
LLAMA := llama-cpp-python==0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
PIP := $(BIN)/python -m pip

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-unit test-db test-e2e lint typecheck check bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## create .venv with the kura command and pinned dependencies

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "building $(LLAMA) once (about 5-8 minutes on 2 cores; cached in $(WHEELS))"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel -q --no-deps -w $(WHEELS) $(LLAMA); }
	$(PIP) install -q --find-links $(WHEELS) -r requirements.lock
	$(PIP) install -q --no-deps -e .
	@touch $@

demo: setup ## the main job on embedded defaults: database, sample knowledge, local model, chat
	$(BIN)/kura demo $(ARGS)

test: setup ## every test tier (unit, db, e2e) and the static checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

test-unit: setup ## unit tests only (seconds)
	$(BIN)/python -m pytest -m unit

test-db: setup ## database tests on the embedded PostgreSQL
	$(BIN)/python -m pytest -m db

test-e2e: setup ## the kura command end to end with the real local model
	$(BIN)/python -m pytest -m e2e

lint: setup ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup ## mypy --strict on the packages
	$(BIN)/mypy

bench: setup ## benchmarks (print tables; not tests)
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/retrieval_latency.py

lock: ## re-resolve requirements.lock from pyproject.toml in a scratch venv
	rm -rf /tmp/kura-lock-venv && $(PYTHON) -m venv /tmp/kura-lock-venv
	/tmp/kura-lock-venv/bin/python -m pip install -q --find-links $(WHEELS) -e ".[dev,local-model]"
	/tmp/kura-lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^#' > requirements.lock

clean: ## remove .venv and caches (not your data dir, not the model cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
