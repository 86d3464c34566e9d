# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The suite's processes (pytest-xdist): 2, a 2-core CI machine's cores; PYTEST_WORKERS=0 (or PYTEST_ARGS="-p no:xdist")
# runs it in this one process, as --pdb needs. Each test file runs whole in one process, the slowest files first.
PYTEST_WORKERS ?= 2
XDIST_ARGS = $(if $(findstring no:xdist,$(PYTEST_ARGS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)

.PHONY: run test lint bench audit clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-dev.txt bench/requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

## run: migrate, load the demo and run the Procfile (web, worker, beat, mail catcher) with honcho; Ctrl-C stops all
run: $(VENV)/.installed-run
	$(PY) -m devtools.serve

## lint: ruff over the whole tree
lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

## test: lint, then the whole suite in PYTEST_WORKERS processes (embedded PostgreSQL unless DATABASE_URL is set)
test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m bandit --quiet --recursive --severity-level medium --exclude bench/.peers-venv clinic patients scheduling api bench devtools
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(XDIST_ARGS) $(PYTEST_ARGS)

$(VENV)/.installed-bench: requirements.txt bench/requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt -r bench/requirements.txt
	touch $@

## bench: every benchmark at the default sizes, one table, also in bench/results/latest.json
## (BENCH_ARGS=--quick for a smoke run; the peers get their own venv, bench/.peers-venv)
bench: $(VENV)/.installed-bench
	$(PY) -m bench.run $(BENCH_ARGS)

## audit: known vulnerabilities in the pinned requirements (needs the PyPA advisory service)
audit: $(VENV)/.installed-test
	$(PY) -m pip install --quiet pip-audit==2.10.1
	$(PY) -m pip_audit --requirement requirements.txt --requirement requirements-dev.txt

clean:
	rm -rf $(VENV) .data staticfiles
