# The commands the README names. Each installs what it needs first (uv, then the locked
# dependencies), so a fresh clone needs only Python 3.11+ and make.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTHON_FILES := shared producer consumer scripts tests bench

.PHONY: help uv install install-run run test test-fast lint format docs bootstrap bench bench-io clean

help:
	@echo "make run        local SQS endpoint + queues + producer + consumer (Ctrl-C stops all)"
	@echo "make test       lint, type-check and the full test suite"
	@echo "make test-fast  unit tests only (no real processes)"
	@echo "make lint       ruff, mypy and the import contracts"
	@echo "make docs       regenerate docs/architecture.md's layout and docs/envelope.schema.json"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| { echo "could not install uv with pip: see https://docs.astral.sh/uv/ to install it"; exit 1; }

# everything: the services, the local endpoint, and the test and lint tools
install: uv
	@$(UV) sync --frozen --quiet

# what running needs: the services and the local endpoint (moto), not the test tools; tools
# a `make test` installed before are left in place
install-run: uv
	@echo "installing the services and the local endpoint (uv sync --no-dev --group local)"
	@$(UV) sync --frozen --quiet --no-dev --group local --inexact

run: install-run
	$(UV) run --frozen --no-dev --group local python scripts/run_local.py

lint: install
	$(UV) run --frozen ruff check $(PYTHON_FILES)
	$(UV) run --frozen ruff format --check $(PYTHON_FILES)
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports --no-cache

format: install
	$(UV) run --frozen ruff format $(PYTHON_FILES)
	$(UV) run --frozen ruff check --fix $(PYTHON_FILES)

# the generated parts of docs/: the layout tree and the envelope's JSON Schema
docs: install
	$(UV) run --frozen python -m scripts.layout --write
	$(UV) run --frozen python -m shared.messages.schema > docs/envelope.schema.json

test: lint
	$(UV) run --frozen pytest

test-fast: install
	$(UV) run --frozen pytest -m "not e2e"

bench: install
	$(UV) run --frozen python -m bench

# threads over boto3 against asyncio over aiobotocore; aiobotocore is no dependency, so uv
# adds it (and the boto3 matching its botocore pin) to this run alone
bench-io: install
	$(UV) run --frozen --with aiobotocore==3.10.0 --with boto3==1.43.117 python -m bench.io_model

bootstrap: install
	$(UV) run --frozen python -m shared.bootstrap --wait 30

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache test-artifacts
