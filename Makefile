# Two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
# The settings fail closed (finder/settings/production.py: DEBUG off, a secret required, HTTPS
# only); on a developer's machine the finder runs on the local settings unless told otherwise,
# and the tests on their own (finder/settings/test.py).
export DJANGO_SETTINGS_MODULE ?= finder.settings.local
PYTEST := DJANGO_SETTINGS_MODULE=finder.settings.test $(PY) -m pytest

.PHONY: install static run test test-fast test-sqlite test-postgres lint browser bench soak

# The locks (requirements*.txt, compiled from the .in files beside them: docs/dependencies.md) pin
# every package with its hashes; pip refuses anything else.
$(VENV)/.installed: requirements.txt requirements-export.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

static: install
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: static
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runfinder --port $(PORT)

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# ruff, and the architecture: data flows one way, no import cycles (contracts in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: static browser lint test-sqlite test-postgres

# The fast tier, on SQLite: everything but the tests marked slow (processes, browsers, minutes); about two minutes.
test-fast: install
	$(PYTEST) -m "not slow"

test-sqlite: install
	$(PYTEST)

# Tests that run a whole finder on a database of their own (marked own_database) ran in the SQLite run.
test-postgres: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(PYTEST) -m "not own_database"

# The benchmark suite: writes bench/results.json and bench/results.md (about 20 minutes).
bench: static
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(PY) -m bench

# The soak test in full: 5 minutes of mixed browsing and search at 32 concurrent clients.
soak: static
	FINDER_SOAK_SECONDS=300 $(PYTEST) tests/test_soak.py -s
