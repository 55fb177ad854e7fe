# Two commands on a fresh machine:  make demo  |  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test browser docs check lint tree typecheck imports pytest coverage coverage-summary bench bench-ci clean \
  mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip

## demo: create the environment, install paybonus and run it on the shipped sample company and project
demo: $(BIN)/python
	$(BIN)/pip install -qq -e .
	$(BIN)/paybonus demo
	$(BIN)/paybonus project demo

## test: install the test dependencies and run lint, format check, type check, the whole test suite under coverage
## (in parallel, the `paybonus` processes it starts included), a reduced bench, then the coverage figures
test: $(BIN)/python browser
	$(BIN)/pip install -qq -e '.[test]' -e docs/examples/paybonus-prime-fin-annee
	$(MAKE) --no-print-directory check

# the `paybonus browse` test drives Debian's chromium through chromium-driver: installed quietly when missing
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "note: could not install chromium and chromium-driver: the browser test skips (and fails in CI)"

check: lint typecheck imports pytest bench-ci coverage-summary

# a reduced benchmark: prints its throughput and its ratio to the raw-SQLite floor (never a timed assertion)
bench-ci:
	$(BIN)/paybonus bench --sizes 3000 --no-vendor --no-replay

## docs: regenerate the generated parts of docs/cli.md, docs/reference.md and docs/ledger.md (cog)
docs:
	PAYBONUS_PLUGINS=interessement,salary $(BIN)/cog -I docs -r docs/cli.md docs/reference.md docs/ledger.md

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy and import-linter cannot follow setuptools' package-dir mapping: they read a tree laid out as installed
# (real directories, links to the files)
tree:
	rm -rf build/tree && mkdir -p build/tree
	cp -rs "$(CURDIR)/core" build/tree/paybonus
	for d in hooks plugins fixtures; do cp -rs "$(CURDIR)/$$d" build/tree/paybonus/$$d; done
	find build/tree -name __pycache__ -prune -exec rm -rf {} +

typecheck: tree
	cd build/tree && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p paybonus

# the architecture's layers and no import cycles (pyproject.toml [tool.importlinter])
imports: tree
	cd build/tree && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports $(CURDIR)/pyproject.toml --no-cache

# pytest-xdist workers (auto: one per core; PYTEST_WORKERS=0 runs in this process); coverage measures them and
# every `paybonus` process the tests start (pyproject.toml [tool.coverage.run]: patch = subprocess, sigterm)
PYTEST_WORKERS ?= auto

pytest:
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -q -n $(PYTEST_WORKERS)
	@$(BIN)/coverage combine -q

# lines and branches of core/ and plugins/, and the floor on branches (tests/helpers/coverage_summary.py)
coverage-summary:
	@$(BIN)/python tests/helpers/coverage_summary.py

## coverage: the test suite under coverage and its figures, without the lint and type checks of `make test`
coverage: $(BIN)/python
	$(BIN)/pip install -qq -e '.[test]' -e docs/examples/paybonus-prime-fin-annee
	$(MAKE) --no-print-directory pytest coverage-summary

# the mutants `make mutation` runs: every function of the rule modules of pyproject.toml [tool.mutmut]
MUTANTS := 'paybonus.money.*' 'paybonus.distribution.*' 'paybonus.formulas.*' 'paybonus.calendar.*' \
  'paybonus.deadlines.*' 'paybonus.payments.*'
# paybonus.export is mutated too but run on its own (about 100 minutes on one worker, docs/testing.md):
#   make mutation MUTANTS="'paybonus.export.*'" MUTATION_JOBS=1

## mutation: mutation testing (mutmut) of the rule modules listed in pyproject.toml [tool.mutmut]; not in `make test`
# mutmut wants the package as installed under src/: a staging copy in build/mutation (its results stay there)
mutation: $(BIN)/python
	$(BIN)/pip install -qq -e '.[test,mutation]' -e docs/examples/paybonus-prime-fin-annee
	rm -rf build/mutation && mkdir -p build/mutation/src
	cp -r core build/mutation/src/paybonus
	for d in hooks plugins fixtures; do cp -r $$d build/mutation/src/paybonus/$$d; done
	cp -r tests pyproject.toml build/mutation/
	find build/mutation -name __pycache__ -prune -exec rm -rf {} +
	start=$$(date +%s); cd build/mutation && $(CURDIR)/$(BIN)/mutmut run --max-children $${MUTATION_JOBS:-2} \
	  $(MUTANTS) >mutmut.log 2>&1; status=$$?; echo "mutmut run: $$(( $$(date +%s) - start )) s (log: build/mutation/mutmut.log)"; \
	  test $$status -eq 0 || { tail -20 mutmut.log; exit $$status; }
	cd build/mutation && $(CURDIR)/$(BIN)/python $(CURDIR)/tests/helpers/mutation_score.py $(MUTANTS)

clean:
	rm -rf build dist *.egg-info paybonus-demo.db* .coverage .coverage.*
