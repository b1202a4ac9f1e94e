# Entry points. `make test` and `make demo` each do their own set-up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help setup test test-unit test-terraform checkov test-e2e lint fmt docs docs-check demo local bench browser-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the pinned dev dependencies (no-op when current)

$(STAMP): requirements-dev.txt
	@echo "setup: creating $(VENV) and installing the pinned dev dependencies of requirements-dev.txt (once; about a minute, quiet)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r requirements-dev.txt
	touch $@
	@echo "setup: $(VENV) ready"

test: setup ## Run every check: lint, docs, handler tests, end-to-end tests; terraform checks and checkov alongside
	bash scripts/test-all.sh

test-unit: setup ## Handler tests (pytest + moto) with branch coverage of functions/; tooling tests
	$(PY) -m pytest tests/unit --cov --cov-report=term-missing:skip-covered --cov-fail-under=90
	$(PY) -m pytest tests/tools bench/tests

test-terraform: setup ## terraform fmt, init/validate everywhere, terraform test, tflint when installed
	PY=$(PY) bash scripts/terraform-checks.sh

checkov: ## checkov over the repository (own virtualenv: its pins clash with moto's)
	PYTHON=$(PYTHON) bash scripts/checkov.sh

test-e2e: setup ## End-to-end tests: real WebSocket clients against the local stack
	$(PY) -m pytest tests/e2e

lint: setup ## ruff (lint + format check) and mypy (functions, local, bench, clients/python)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy functions local bench
	$(PY) -m mypy -p notify_client

docs: setup ## Regenerate the README Inputs/Outputs tables (root and submodules) from the .tf files
	$(PY) scripts/module_docs.py

docs-check: setup ## Fail when a README Inputs/Outputs table differs from the .tf files
	$(PY) scripts/module_docs.py --check

fmt: setup ## Format Python and Terraform sources
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
	terraform fmt -recursive

demo: setup ## Run the system locally (no AWS account): apply examples/complete, narrated scenario, tear down
	$(PY) -m local demo

local: setup ## Same stack, left running for interactive use (Ctrl-C tears it down)
	$(PY) -m local up

bench: setup ## Fan-out benchmark on the local stack: table, JSON and plot
	$(PY) -m bench

browser-check: setup ## The JS client in headless Chromium against the local stack (installs Debian's chromium if missing); screenshot in docs/img
	@command -v chromium >/dev/null || { echo "browser-check: installing Debian's chromium with apt-get"; \
	  $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq chromium; }
	$(PY) scripts/browser_check.py

clean: ## Remove virtualenvs, build output, local state and caches
	rm -rf $(VENV) .venv-* build .tf-offline .local .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .terraform -type d -prune -exec rm -rf {} +
