# Everything runs in .venv, made from the first python3 on PATH (>= 3.10).
PYTHON ?= python3
# test-min: the oldest Python the project allows, if pyenv has it; else $(PYTHON).
PYTHON_MIN ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10) $(PYTHON))
VENV := .venv
BIN := $(VENV)/bin
# The aws CLI that runs USAGE.md's credential_process recipe, in a venv of its own:
# awscli pins botocore exactly, and must not choose the botocore the suite tests.
AWS_CLI := .venv-awscli/bin/aws

# test-all: the suite on each Python the classifiers name, where pyenv has it.
PYTHONS ?= 3.10 3.11 3.12 3.13

.PHONY: test test-dates test-all test-min lint dist demo bench clean

$(BIN)/aws-mfa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dates,lint,release]'
	touch $@

$(AWS_CLI):
	$(PYTHON) -m venv .venv-awscli
	.venv-awscli/bin/python -m pip install --quiet 'awscli>=1.45.11' time-machine==3.6.0  # the clock of test-dates
	touch $@

lint: $(BIN)/aws-mfa
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/deptry .

test: lint $(AWS_CLI)
	$(BIN)/coverage erase
	TEST_AWS_CLI=$(abspath $(AWS_CLI)) $(BIN)/coverage run -m pytest
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

# The suite passes on any date and in any order: run whole, in a random order each time, with
# every Python process's clock moved (tests/clock/sitecustomize.py): 400 days ahead, 90 days
# ahead, and back to the eve of the day literal dates in the tests once broke the suite.
CLOCKS ?= +400d +90d 2026-11-27T12:00:00Z
test-dates: $(BIN)/aws-mfa $(AWS_CLI)
	for clock in $(CLOCKS); do \
		echo "TEST_CLOCK=$$clock"; \
		TEST_CLOCK=$$clock PYTHONPATH=$(abspath tests/clock) TEST_AWS_CLI=$(abspath $(AWS_CLI)) \
			$(BIN)/python -m pytest -p randomly -p no:cacheprovider \
			-W "ignore:Module already imported so cannot be rewritten; time_machine" || exit 1; \
	done

# The whole suite on every Python of PYTHONS that pyenv has (each in .venv-X.Y); one line
# per Python at the end, SKIPPED for a missing one (which fails the run when CI=true).
test-all: lint $(AWS_CLI)
	TEST_AWS_CLI=$(abspath $(AWS_CLI)) .ci/matrix $(PYTHONS)

# The suite once more with every dependency at its declared lower bound (.ci/lower-bounds.txt).
test-min: .ci/lower-bounds.txt pyproject.toml $(AWS_CLI)
	rm -rf .venv-min
	$(PYTHON_MIN) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet -r .ci/lower-bounds.txt
	.venv-min/bin/python -m pip install --quiet --no-deps -e .
	.venv-min/bin/python --version
	TEST_AWS_CLI=$(abspath $(AWS_CLI)) .venv-min/bin/python -m pytest -q -p no:cacheprovider

# sdist and wheel in dist/, checked (twine --strict, contents), the wheel installed into a
# fresh .venv-wheel and run from there.
dist: $(BIN)/aws-mfa
	rm -rf dist .venv-wheel
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_dist.py dist
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet dist/*.whl
	.venv-wheel/bin/aws-mfa --version
	.venv-wheel/bin/aws-mfa --help > /dev/null

# The demo's own venv: the project and what tests/demo.py imports (boto3, moto's server), nothing else.
DEMO := .venv-demo
$(DEMO)/bin/aws-mfa: pyproject.toml aws_mfa.py
	$(PYTHON) -m venv $(DEMO)
	$(DEMO)/bin/python -m pip install --quiet '.[demo]'
	touch $@

demo: $(DEMO)/bin/aws-mfa
	$(DEMO)/bin/python tests/demo.py

# Builds .bench/venv (a plain install, as pipx gives users) and times every case; BENCH_ARGS=--with-peer
# also installs broamski/aws-mfa 0.0.12 for the side-by-side refresh.
bench: $(BIN)/aws-mfa
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEMO) .venv-min .venv-awscli .venv-3.* .venv-wheel dist build .bench .coverage .coverage.* .mypy_cache .pytest_cache .ruff_cache
