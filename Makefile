# Two commands on a fresh machine:  make demo  |  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

## demo: create the environment, install paybonus and run it on the shipped sample company and project
demo: $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/paybonus demo
	$(BIN)/paybonus project demo

## test: install the test dependencies and run lint, format check, type check and the whole test suite
test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]' -e docs/examples/paybonus-prime-fin-annee
	$(MAKE) --no-print-directory check

check: lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' package-dir mapping, so it checks a tree of links laid out as installed
typecheck:
	rm -rf build/typecheck && mkdir -p build/typecheck/paybonus
	for f in core/*.py core/data core/py.typed; do ln -s "$(CURDIR)/$$f" build/typecheck/paybonus/; done
	for d in hooks plugins fixtures; do ln -s "$(CURDIR)/$$d" build/typecheck/paybonus/$$d; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p paybonus

pytest:
	$(BIN)/pytest -q

clean:
	rm -rf build dist *.egg-info paybonus-demo.db*
