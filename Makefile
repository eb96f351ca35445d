# Everything runs in .venv, made from the first python3 on PATH (>= 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test lint demo bench clean

$(BIN)/aws-mfa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

lint: $(BIN)/aws-mfa
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine -q || true
	$(BIN)/coverage report

demo: $(BIN)/aws-mfa
	$(BIN)/python tests/demo.py

# Builds .bench/venv (a plain install, as pipx gives users) and times every case; BENCH_ARGS=--with-peer
# also installs broamski/aws-mfa 0.0.12 for the side-by-side refresh.
bench: $(BIN)/aws-mfa
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .bench .coverage .coverage.* .mypy_cache .pytest_cache .ruff_cache
