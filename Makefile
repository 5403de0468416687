# One entry point for people and CI. `make test` works on a fresh machine: it creates the
# virtualenv and installs what the suite needs before running it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit clean

# Datadog's test agent pins opentelemetry-proto < 1.37, which fights the SDK: its own venv.
DDAGENT_VENV ?= .venvs/ddagent
DDAGENT := $(DDAGENT_VENV)/bin/ddapm-test-agent

$(DDAGENT):
	$(PYTHON) -m venv $(DDAGENT_VENV)
	$(DDAGENT_VENV)/bin/python -m pip install -q --upgrade pip
	$(DDAGENT_VENV)/bin/python -m pip install -q ddapm-test-agent==1.69.1

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# The demo: a local Stripe stand-in with realistic latency, 200 checkouts, and where the time went.
demo: $(BIN)/.installed
	$(BIN)/python -m stripe_otel.cli demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(DDAGENT)
	DDAPM_TEST_AGENT=$(abspath $(DDAGENT)) $(BIN)/pytest -q -ra

unit: $(BIN)/.installed
	$(BIN)/pytest -q tests/unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every benchmark (overhead with peers, import time, exporters, memory, outage): writes
# benchmarks/results/latest.{json,md} and rewrites benchmarks/RESULTS.md. 8-16 minutes on 2 cores;
# run it on a quiet machine. `make bench BENCH_ARGS=--quick` is a smoke run (tiny sizes).
.PHONY: bench
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks.suite $(BENCH_ARGS)
