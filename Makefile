# Two commands for a newcomer: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# requirements.lock: runtime (web, worker, beat, demo); requirements-dev.lock: runtime at the
# same versions + tests and lint. Both pinned with hashes by `make lock` from requirements*.in.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# One stamp per lock content: make reinstalls only when a lock changed.
RUNTIME_STAMP := $(VENV)/.installed-runtime-$(shell sha256sum $(LOCK) | cut -c1-16)
STAMP := $(VENV)/.installed-dev-$(shell sha256sum $(DEV_LOCK) | cut -c1-16)
PIP_TOOLS := pip-tools==7.6.2
LOCKENV := /tmp/ressenti-lockenv
# `make lock LOCK_ARGS=--upgrade` (or --upgrade-package NAME) moves pins; plain `make lock` keeps them.
LOCK_ARGS ?=
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCKENV)/bin/pip-compile --quiet --generate-hashes \
	--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: install install-runtime migrate demo run test lint lock messages clean

$(RUNTIME_STAMP): $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	rm -f $(VENV)/.installed-* && touch $(RUNTIME_STAMP)

# The development set holds the runtime one: once installed, the runtime stamp is
# valid too (only while requirements-dev.lock pins every line of requirements.lock).
$(STAMP): $(DEV_LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	rm -f $(VENV)/.installed-* && touch $(STAMP)
	awk 'FNR==NR { if (/^[^ #]/) pin[$$1]; next } /^[^ #]/ && !($$1 in pin) { missing=1 } END { exit missing }' \
	  $(DEV_LOCK) $(LOCK) && touch $(RUNTIME_STAMP) || echo "$(DEV_LOCK) does not hold every pin of $(LOCK): run make lock"

# axe-core for the browser tests' accessibility checks (test tooling only).
node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the browser tests (apt-get install -y npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

# Development set (tests, lint); `install-runtime` is what the demo and production need.
install: $(STAMP)

install-runtime: $(RUNTIME_STAMP)

migrate: install-runtime
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# Web server + a real Celery worker with beat, on the embedded defaults. The accounts and the patient
# link are printed once, by run_demo, when its server answers (on $PORT).
run: migrate
	$(PY) manage.py load_demo --no-access
	$(PY) manage.py run_demo

# In parallel, one process per core (pytest-xdist); each has its own test database and Redis database.
PYTEST_ARGS ?= -n auto
test: install node_modules/.package-lock.json
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

# Style and structure: ruff (checks and formatting), import-linter (research code never imports
# identities), mypy with django-stubs against a baseline that may only shrink (.ci/mypy_baseline.py).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) .ci/mypy_baseline.py

# Re-resolve both locks, with hashes: requirements.in -> requirements.lock, then
# requirements-dev.in -> requirements-dev.lock (constrained to the runtime pins).
lock:
	rm -rf $(LOCKENV) && $(PYTHON) -m venv $(LOCKENV)
	$(LOCKENV)/bin/pip install --quiet $(PIP_TOOLS)
	$(COMPILE) --output-file=$(LOCK) requirements.in
	$(COMPILE) --output-file=$(DEV_LOCK) requirements-dev.in
	rm -rf $(LOCKENV)

# Extract strings into locale/fr/LC_MESSAGES/django.po (translations kept, gone strings dropped), compile (needs gettext).
messages: install
	$(PY) manage.py makemessages -l fr --no-obsolete -i ".venv/*" -i "node_modules/*" -i "bench/*" -i "tests/*"
	$(PY) manage.py compilemessages -l fr -i ".venv" -i "node_modules"

clean:
	rm -rf $(VENV) var
