# Everything runs from a virtualenv in .venv, created on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the package with its test tools

run: $(STAMP) ## the demo: broker, worker, seeds/ enriched and shown, clean stop
	$(VENV)/bin/streams run

broker: $(STAMP) ## start the local Kafka broker (fetches its jars on first use)
	$(VENV)/bin/streams broker start

system-deps: ## Debian packages the tests use (the Prometheus server)
	@command -v prometheus >/dev/null || { \
		[ "$$(id -u)" = 0 ] || { echo "install Debian's prometheus package (sudo apt-get install prometheus)"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; }

test: system-deps broker ## the test suite, against the real broker
	$(PY) -m pytest

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check streams tests benchmarks
	$(VENV)/bin/ruff format --check streams tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) ## the benchmarks (quality and speed), printed as Markdown
	$(PY) benchmarks/langid_eval.py
	$(PY) benchmarks/dedup_eval.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/ner_eval.py

bench-peers: $(STAMP) ## the peer table: plain clients, Quix Streams, faust and our stages
	$(PY) -m pip install --quiet -e '.[bench]'
	$(VENV)/bin/streams broker start
	$(PY) benchmarks/peers.py

train-de: $(STAMP) ## retrain the German NER pipeline from ../shared/data/train/ner
	$(PY) -m pip install --quiet -e '.[train]'
	$(PY) training/de/train.py all

clean: ## stop the broker and remove the virtualenv and caches
	-$(VENV)/bin/streams broker stop
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache streams-data

.PHONY: help setup system-deps run broker test lint bench bench-peers train-de clean
