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
.PHONY: help setup demo test test-unit test-db test-e2e lint typecheck check bench bench-smoke lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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

test: setup ## every test tier (unit, db, e2e), the static checks and the benchmarks' smoke run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory bench-smoke

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

# Every script in bench/ at its smallest size, one after another, stopping at the first that fails:
# a benchmark nothing runs rots (retrieval_latency.py broke unnoticed once). A run passes when it exits
# 0 within BENCH_SMOKE_TIMEOUT seconds AND its stdout has its title line ("Kura ...", the table's
# first line), so a script that exits 0 without printing its table fails too. The figures mean
# nothing at these sizes. minutes_quality and slack_latency answer with the fake model (--fake-model;
# the real local model would take minutes); the load scripts ingest only the handbook folder, which
# answers their three questions. 77 s on an idle 2-core machine, up to ~3 minutes when it is shared.
BENCH_SMOKE_TIMEOUT := 300
HANDBOOK := bot/sample/knowledge/handbook
# `$(BENCH_SMOKE) TITLE SCRIPT ARGS...` runs bench/SCRIPT.py ARGS (stderr shown as it comes, stdout
# kept and shown only on failure).
BENCH_SMOKE = smoke() { \
	  title=$$1; script=bench/$$2.py; shift 2; echo "bench-smoke: $$script $$*"; started=$$(date +%s); \
	  out=$$(timeout $(BENCH_SMOKE_TIMEOUT) $(BIN)/python $$script "$$@"); status=$$?; \
	  if [ $$status -ne 0 ]; then printf '%s\n' "$$out"; reason="exited with status $$status"; \
	    [ $$status -eq 124 ] && reason="timed out after $(BENCH_SMOKE_TIMEOUT) s"; \
	    echo "bench-smoke: FAILED: $$script $$reason"; return 1; fi; \
	  if ! printf '%s\n' "$$out" | grep -q "^$$title"; then printf '%s\n' "$$out"; \
	    echo "bench-smoke: FAILED: $$script exited 0 without its table (no line starting '$$title')"; return 1; fi; \
	  echo "bench-smoke:   ok in $$(( $$(date +%s) - started )) s"; \
	}; smoke

bench-smoke: setup ## every benchmark at a tiny size, failing on the first that breaks (in `make test`)
	@$(BENCH_SMOKE) "Kura hostile text" hostile_text --size 2000 --repeat 1
	@$(BENCH_SMOKE) "Kura minutes quality" minutes_quality --fake-model
	@$(BENCH_SMOKE) "Kura retention purge" retention_purge --records 300 --days 400
	@$(BENCH_SMOKE) "Kura retrieval latency" retrieval_latency --chunks 10000 --queries 20 --clusters 20 --halfvec --halfvec-graph 16,32 --sweep-ef 40
	@$(BENCH_SMOKE) "Kura ingest throughput" ingest_throughput --copies 1 --documents 2 --resync-documents 20
	@$(BENCH_SMOKE) "Kura ingest throughput" ingest_throughput --copies 1 --documents 2 --profile-embedder --profile-texts 4
	@$(BENCH_SMOKE) "Kura FAQ mining" faq --questions 300
	@$(BENCH_SMOKE) "Kura retrieval quality" retrieval_quality --smoke
	@$(BENCH_SMOKE) "Kura first token" first_token --fake-model --questions 2
	@$(BENCH_SMOKE) "Kura conversation load" conversation_load --concurrency 1,4 --min-samples 4 --restart 0 \
	  --first-token 0.05 --tokens 10 --token-delay 0.01 --query-vectors precomputed --knowledge $(HANDBOOK)
	@$(BENCH_SMOKE) "Kura Teams load" teams_load --concurrency 1,4 --min-samples 4 \
	  --first-token 0.05 --tokens 10 --token-delay 0.01 --query-vectors precomputed --knowledge $(HANDBOOK)
	@$(BENCH_SMOKE) "Kura Slack latency" slack_latency --fake-model --mentions 2 --knowledge $(HANDBOOK)
	@echo "bench-smoke: every benchmark ran"

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
