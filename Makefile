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

# Every package comes from requirements-dev.lock, each file checked against its hash. The two
# exceptions fetch nothing: llama-cpp-python, built here (so its hash varies; its dependencies are in
# the lock), and Kura itself, built by the locked setuptools.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "building $(LLAMA) once (about 5-8 minutes on 2 cores; cached in $(WHEELS))"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel -q --no-deps -w $(WHEELS) $(LLAMA); }
	$(PIP) install -q --no-index --no-deps --find-links $(WHEELS) $(LLAMA)
	$(PIP) install -q --no-index --no-deps --no-build-isolation -e .
	$(PIP) check
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

# requirements.lock: what the image installs (the dependencies, and setuptools to build Kura);
# requirements-dev.lock: what `make setup` installs (that, the dev tools, pip, and llama-cpp-python's
# dependencies but not itself). Hashes of every file of each release, for any platform. Current pins
# are kept; `make lock LOCK_ARGS=--upgrade` takes new releases.
LOCK_VENV := /tmp/kura-lock-venv
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes \
	--no-annotate --custom-compile-command "make lock" $(LOCK_ARGS)
lock: ## re-resolve requirements.lock and requirements-dev.lock (hashed) from pyproject.toml
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q "uv==0.13.9"
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
	  > $(LOCK_VENV)/build.in
	echo "pip>=24" > $(LOCK_VENV)/pip.in
	$(UV_COMPILE) -o requirements.lock pyproject.toml $(LOCK_VENV)/build.in
	$(UV_COMPILE) -o requirements-dev.lock --extra dev --extra local-model --no-emit-package llama-cpp-python \
	  -c requirements.lock pyproject.toml $(LOCK_VENV)/build.in $(LOCK_VENV)/pip.in

clean: ## remove .venv and caches (not your data dir, not the model cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
