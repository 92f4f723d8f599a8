# Two commands do all set-up themselves: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: run demo test test-fast lint typecheck bench package deploy destroy clean runner-image

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
	$(BIN)/python -m bench.ecs_jobs
	$(BIN)/python -m bench.bulk
	$(BIN)/python -m bench.journal_cost
	$(BIN)/python -m bench.local_engine

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## package: the deployable template and bundle in out/ (any STAGE: names derive from the stack), SAM expanded
## to plain CloudFormation offline (out/cloudformation.json) and checked with cfn-lint
package: $(STAMP)
	STAGE=$${STAGE:-dev} REGION=$${REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} $(BIN)/python -m deploy.package

## deploy: package, upload the bundle to ARTIFACTS_BUCKET, create or update the stack jobs-service-$$STAGE
## (the built-in data loads during it), print the API URL and how to mint the first admin token
deploy: $(STAMP)
	$(BIN)/python -m deploy.cli deploy --stage $${STAGE:-dev} --region $${REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} \
		--artifacts-bucket "$${ARTIFACTS_BUCKET:?set ARTIFACTS_BUCKET to an S3 bucket for the bundle}" \
		--subnets "$${SUBNETS:?set SUBNETS to the job tasks subnet ids, comma-separated}" \
		--security-group "$${SECURITY_GROUP:?set SECURITY_GROUP to the job tasks security group id}" \
		$(if $(filter-out 0,$(ASSIGN_PUBLIC_IP)),--assign-public-ip) $(if $(filter-out 0,$(NO_RUNNER_IMAGE)),--no-runner-image) \
		$(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))

## runner-image: build the ECS tasks' pre/post image (needs Docker) as $${RUNNER_IMAGE:-jobs-runner:local}
runner-image:
	docker build -f runner-image/Dockerfile -t $${RUNNER_IMAGE:-jobs-runner:local} .

## destroy: delete the stack jobs-service-$$STAGE; its tables and bucket are kept (DELETE_DATA=1 removes them)
destroy: $(STAMP)
	$(BIN)/python -m deploy.cli destroy --stage $${STAGE:-dev} --region $${REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} \
		$(if $(filter-out 0,$(DELETE_DATA)),--delete-data)
