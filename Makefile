# zimage: `make run` serves the product on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint format messages bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1'
	@echo "zimage: installing dependencies into $(VENV) (first run takes a minute or two)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --group web --group worker --group dev
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	@$(PY) -m zimage.launcher

test: install
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	@$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

messages: install
	@$(PY) scripts/compile_messages.py

bench: install
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var
