# Two commands for a fresh clone: `make run` (the product) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
JS_STAMP := static/vendor/.installed
PIP := $(BIN)/pip --disable-pip-version-check -qq
CALLCENTER_TEST_DATABASE_URL ?= $(shell bash tools/detect-postgres)
export CALLCENTER_TEST_DATABASE_URL

.PHONY: setup run test test-any-date lint format bench system-packages lock clean

setup: $(PY_STAMP) $(JS_STAMP)

$(PY_STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

$(JS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@twilio/voice-sdk/dist/twilio.min.js static/vendor/twilio.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js
	cp node_modules/axe-core/axe.min.js static/vendor/axe.min.js
	touch $@

run: setup
	$(BIN)/callcenter db upgrade
	$(BIN)/callcenter demo --if-empty
	$(BIN)/honcho start -f Procfile

system-packages:
	@bash tools/ensure-system-packages

test: setup system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-any-date: setup system-packages
	bash tools/test-any-date

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python bench/run_all.py

lock: setup
	$(PIP) install uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	npm install --package-lock-only --no-audit --no-fund

clean:
	rm -rf $(VENV) node_modules static/vendor
