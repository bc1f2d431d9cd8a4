VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8090
PORT ?= 8080

.PHONY: test run emulator lint typecheck bench package checkov clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	scripts/install-browser.sh
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

emulator: $(STAMP)
	$(PY) -m emulator --port $(EMULATOR_PORT) --demo

run: $(STAMP)
	$(PY) -m devserver --port $(PORT) --emulator-port $(EMULATOR_PORT)

bench: $(STAMP)
	$(PY) -m bench

package: $(STAMP)
	$(PY) infra/package.py --out dist

checkov:
	scripts/checkov.sh

clean:
	rm -rf $(VENV) .checkov-venv dist .pytest_cache .mypy_cache .ruff_cache
