# Two entry points: `make demo` and `make test`. Both create .venv and install what they need.
VENV ?= .venv
# The interpreter of .venv: the distribution's python3 when it is 3.11 or newer and has venv
# (Debian builds it with profile-guided and link-time optimisation; the backfill takes about a
# sixth less CPU under it than under a build without them, such as pyenv's), else the python3 on
# PATH. Another one: make clean && make test PYTHON=python3.12
SYSTEM_PYTHON ?= /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
	>/dev/null 2>&1 && echo $(SYSTEM_PYTHON) || echo python3)
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit system-deps clean

$(BIN)/.installed: pyproject.toml
	@echo "creating $(VENV) with $$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/triage demo

system-deps:
	@bash .ci/system-deps.sh

lint: $(BIN)/.installed
	$(BIN)/ruff check triage tests bench

typecheck: $(BIN)/.installed
	$(BIN)/mypy

test: system-deps $(BIN)/.installed lint typecheck
	$(BIN)/pytest -q

unit: $(BIN)/.installed
	$(BIN)/pytest -q -m "not integration"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The backfill benchmark (bench/README.md): triage against mbsync on a generated mailbox in a
# private Dovecot, stage timings, live latency. Needs root, Dovecot and isync (`make system-deps`).
# Smaller or more: make bench BENCH_ARGS="--messages 2000 --rounds 1"; add --profile for py-spy.
.PHONY: bench
bench: $(BIN)/.installed
	$(BIN)/python bench/backfill.py $(BENCH_ARGS)

# The soak run (bench/README.md): the daemon under IDLE receives mail at a steady rate (2/s) for
# 10 minutes while a digest goes out every minute to an in-process SMTP server; memory over time,
# latency, errors, digests, exactly-once. Mail is dated 10 simulated days later per minute, so the
# weeks the daemon re-derives slide as they do over months. Needs root and Dovecot.
# Shorter: SOAK_ARGS="--minutes 1"; real time: SOAK_ARGS="--days-per-minute 0".
.PHONY: soak
soak: $(BIN)/.installed
	$(BIN)/python bench/soak.py $(SOAK_ARGS)
