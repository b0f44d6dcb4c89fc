# Two commands for a newcomer: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-16)

.PHONY: install migrate demo run test lint lock messages clean

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# axe-core for the browser tests' accessibility checks (test tooling only).
node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the browser tests (apt-get install -y npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo --no-link

# Web server + a real Celery worker with beat, on the embedded defaults.
run: demo
	$(PY) manage.py run_demo

test: install node_modules/.package-lock.json
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

lint: install
	$(VENV)/bin/ruff check .

# Re-resolve dependencies from requirements*.in into the lock file.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -r requirements.in -r requirements-dev.in
	.lockenv/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf .lockenv

# Extract strings into locale/fr/LC_MESSAGES/django.po (translations kept, gone strings dropped), compile (needs gettext).
messages: install
	$(PY) manage.py makemessages -l fr --no-obsolete -i ".venv/*" -i "node_modules/*" -i "bench/*" -i "tests/*"
	$(PY) manage.py compilemessages -l fr -i ".venv" -i "node_modules"

clean:
	rm -rf $(VENV) var
