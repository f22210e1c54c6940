# Two commands do all set-up: `make run` and `make test`. Both create .venv (Python 3.10) when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
AIRFLOW_STAMP := $(VENV)/.installed-airflow
ARGS ?=

.PHONY: run test test-fast bench venv clean browser

# Some machines' pip configs name local wheel folders that do not exist; pip warns once per package.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Python 3.10 is required: TFX 1.16's ml-metadata and TFDV ship no wheels for 3.11+.
# pyenv's own 3.10 first (its shim fails when .python-version names a patch release that is not installed).
PYTHON310 := $(or $(shell command -v pyenv >/dev/null 2>&1 && ls -d "$$(pyenv root)"/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1),$(shell command -v python3.10 2>/dev/null))

$(PY):
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: Python 3.10 not found (TFX 1.16 needs exactly 3.10)." >&2; \
	  echo "  install it with pyenv:  pyenv install 3.10 && pyenv local 3.10" >&2; \
	  echo "  or your OS packages:   apt-get install python3.10 python3.10-venv" >&2; \
	  exit 1; fi
	@echo "creating $(VENV) with $(PYTHON310)"
	@$(PYTHON310) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt
	@echo "installing tfx-lstm and its pinned stack into $(VENV) (first time: ~3 min, ~3 GB)"
	@set -o pipefail; $(PY) -m pip install -q --upgrade "pip==24.2" "setuptools==75.1.0" wheel 2>&1 | $(QUIET_PIP)
	@set -o pipefail; $(PY) -m pip install -q -c constraints.txt -e ".[test]" 2>&1 | $(QUIET_PIP)
	@touch $(STAMP)

# The Airflow extra, for the Airflow test (make test); `make run` does not need it.
$(AIRFLOW_STAMP): $(STAMP)
	@echo "installing the airflow extra into $(VENV) (first time: ~1 min)"
	@set -o pipefail; $(PY) -m pip install -q -c constraints.txt -e ".[test,airflow]" 2>&1 | $(QUIET_PIP)
	@touch $(AIRFLOW_STAMP)

venv: $(STAMP)

run: $(STAMP)
	@TF_USE_LEGACY_KERAS=1 $(VENV)/bin/tfx-lstm run all $(ARGS)

# The report's browser test opens reports in Debian's Chromium; installed here when missing (the test itself
# installs nothing and, without it, fails naming this command).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the report's browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || echo "warning: could not install chromium (apt-get install -y chromium); the browser test will fail" >&2; \
	fi

# Two pytest workers (pytest-xdist), one test module each at a time (--dist loadfile: a module's tests share its
# end-to-end run): most of a pipeline run waits on one core, so two modules side by side use both.
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: $(STAMP) $(AIRFLOW_STAMP) browser
	@TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-fast: $(STAMP)
	@TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not e2e" $(ARGS)

# `make bench DATA=DIR`: DIR holds the full public datasets (bench/README.md, "Data": sources and layout).
DATA ?=
bench: $(STAMP)
	@if [ -z "$(DATA)" ] || [ ! -d "$(DATA)" ]; then \
	  echo "error: data directory '$(DATA)' not found." >&2; \
	  echo "  the benchmarks need the full public datasets: make bench DATA=/path/to/datasets" >&2; \
	  echo "  bench/README.md (\"Data\") names their sources and the layout expected under DATA." >&2; \
	  exit 1; fi
	@TF_USE_LEGACY_KERAS=1 $(PY) -m bench.forecast_bench --data "$(DATA)" $(ARGS)

clean:
	rm -rf $(VENV) runs
