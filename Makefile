# Two commands do all set-up themselves: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: run demo test test-fast lint typecheck bench package clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check 'pip>=23,<26.3'
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: start the whole service locally (moto on loopback, API on http://127.0.0.1:$${PORT:-8000})
run: $(STAMP)
	$(BIN)/python -m local.stack $(if $(filter-out 0,$(DEMO)),--demo)

## demo: like run, with demo job types, files and jobs loaded
demo: $(STAMP)
	$(BIN)/python -m local.stack --demo

## test: lint and type checks, then the whole test suite (unit, functional, end-to-end)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

## test-fast: unit and functional tests only
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

## typecheck: mypy over chalicelib/ (settings in pyproject.toml: untyped definitions refused)
typecheck: $(STAMP)
	$(BIN)/mypy

## bench: cost and speed figures, written to docs/performance.md
bench: $(STAMP)
	$(BIN)/python -m bench.list_jobs
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.run_jobs
	$(BIN)/python -m bench.bulk
	$(BIN)/python -m bench.journal_cost
	$(BIN)/python -m bench.local_engine

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## package: the deployable CloudFormation/SAM template and bundle in out/, checked with cfn-lint
package: $(STAMP)
	$(BIN)/python -m deploy.template
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $${STAGE:-dev} \
		--merge-template deploy/resources.json out/
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/cfn-lint out/sam.json
