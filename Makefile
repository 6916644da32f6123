# Set-up is part of every target: a fresh machine needs only Python 3.11, pip and make.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test test-fast browser lint validate-metrics bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# JupyterLab's save guard (a wheel installs it itself; an editable install does not)
	mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	cp jupyter-config/av-workbench.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the main job: built-in suite x local reference models -> leaderboard + HTML report
	$(BIN)/workbench run

test: $(STAMP) browser  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the edit loop: every test not marked slow
	$(BIN)/python -m pytest -q -m "not slow"

# The report test drives Debian's chromium (never a downloaded browser). Installed when missing and
# possible (root with apt-get); otherwise that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will skip"; }

#: Type-checked core: what every layer relies on (the UI, providers and front ends are checked by tests).
MYPY_CORE := workbench/errors.py workbench/_util.py workbench/version.py workbench/prompt.py workbench/config.py \
	workbench/store.py workbench/rundir.py workbench/metrics workbench/analysis/engine.py workbench/generate.py \
	workbench/validate.py workbench/pipeline.py workbench/outputs/checks.py workbench/outputs/leaderboard.py

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/mypy $(MYPY_CORE)

validate-metrics: $(STAMP)  ## metric accuracy against ground truth (prints tables; not a test)
	$(BIN)/python benchmarks/validate_acoustic.py --seeds 3
	$(BIN)/python benchmarks/validate_sync.py
	$(BIN)/python benchmarks/speed_analysis.py

clean:
	rm -rf $(VENV) results/store results/runs
