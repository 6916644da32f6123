# Set-up is part of every target: a fresh machine needs only Python 3.11, pip and make.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test lint validate-metrics bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the main job: built-in suite x local reference models -> leaderboard + HTML report
	$(BIN)/workbench run

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks

validate-metrics: $(STAMP)  ## metric accuracy against ground truth (prints tables; not a test)
	$(BIN)/python benchmarks/validate_acoustic.py
	$(BIN)/python benchmarks/validate_sync.py

clean:
	rm -rf $(VENV) results/store results/runs
