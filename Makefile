# zimage: `make run` serves the product on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pip 26.3 installs from pylock.toml (PEP 751); the lock pins every package with its hash.
PIP_VERSION := 26.3
STAMP := $(VENV)/.installed-$(shell cksum pylock.toml | cut -d' ' -f1)

.PHONY: install lock run test lint typecheck format messages bench clean

$(STAMP): pylock.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check 'pip==$(PIP_VERSION)'
	@echo "zimage: installing the locked dependencies into $(VENV) (first run takes a minute or two)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -r pylock.toml
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# After changing a pin in pyproject.toml: rewrite pylock.toml, pylock.web.toml and pylock.worker.toml.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check 'pip==$(PIP_VERSION)' packaging
	@$(PY) scripts/lock.py

run: install
	@$(PY) -m zimage.launcher

test: install
	@$(PY) -m pytest $(PYTEST_ARGS)

# What CI checks besides the tests: lint, formatting, no model change without its migration, types.
# The migrations check needs no migration applied; with no database to compare against it only warns.
lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@DJANGO_SETTINGS_MODULE=tests.settings $(PY) \
		-W "ignore:Got an error checking a consistent migration history:RuntimeWarning" \
		manage.py makemigrations --check --dry-run
	@$(MAKE) --no-print-directory typecheck

# mypy with django-stubs over the files [tool.mypy] lists in pyproject.toml (about 20 s cold, 2 s cached).
typecheck: install
	@$(VENV)/bin/mypy

format: install
	@$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

messages: install
	@$(PY) scripts/compile_messages.py

bench: install
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var
