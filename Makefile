# Parlour: `make run` starts the app, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Portable llama.cpp build (no -march=native), so the cached wheel runs on any x86-64.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: run test check lint typecheck bench install web-assets system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3

# Python dependencies, pinned by constraints.txt (the local model's llama.cpp compiles once).
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,dev]"
	touch $@

# The page's libraries from npm (pinned by package-lock.json), copied into the package.
src/parlour/web/static/vendor/.installed: package.json package-lock.json scripts/copy_vendor.py
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PYTHON) scripts/copy_vendor.py
	touch $@

install: $(VENV)/.installed web-assets
web-assets: src/parlour/web/static/vendor/.installed

# Debian packages the browser tests need (chromium, a CJK font).
system-deps:
	bash scripts/system-deps.sh

run: install
	$(BIN)/parlour serve

test: install system-deps
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed
	$(BIN)/mypy

check: lint typecheck test

bench: install system-deps
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.rendering

clean:
	rm -rf $(VENV) node_modules src/parlour/web/static/vendor .mypy_cache .ruff_cache .pytest_cache
