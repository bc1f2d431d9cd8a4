VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8090
PORT ?= 8080

.PHONY: test run emulator lint typecheck bench package checkov provider-schema schema-check clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP) provider-schema
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

# The google providers' schemas, once: the pinned @cdktf packages (about 65 MB of tarballs, under 20 s) of which
# only the .jsii manifests are kept, in .cache/provider-schema (200 MB); tests/test_provider_schema.py reads
# them offline.
provider-schema: $(STAMP)
	$(PY) -m tfschema --fetch-only

schema-check: provider-schema
	$(PY) -m tfschema

clean:
	rm -rf $(VENV) .checkov-venv .cache/provider-schema dist .pytest_cache .mypy_cache .ruff_cache
