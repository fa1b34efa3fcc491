# voice-kiosk: `make demo` runs the daemon against the local Realtime emulator,
# `make test` runs lint, types, the import contracts and the test suite. Both install what they need.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-test demo test test-fast lint bench clean

setup:
	@tools/setup.sh

setup-test:
	@tools/setup.sh --test

demo: setup
	@$(PY) -m tools.demo

lint: setup-test
	@$(VENV)/bin/ruff check device tools tests
	@$(VENV)/bin/ruff format --check device tools tests
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache >/dev/null || $(VENV)/bin/lint-imports --no-cache

test: lint
	@$(VENV)/bin/pytest -q

# the quick loop while developing: everything but the tests marked slow (about 40 s)
test-fast: setup-test
	@$(VENV)/bin/pytest -q -m "not slow"

bench: setup-test
	@$(PY) tools/bench.py --quick

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .mypy_cache .ruff_cache
