VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8090
PORT ?= 8080
# axe-core for the accessibility scan of the booking page (tests/browser/test_browser.py): this exact version, fetched
# once with `npm pack` (the tarball only, no install scripts, checked against the registry's integrity hash) into
# .cache/axe-core@VERSION; the tests read it from there and never reach the network.
AXE_VERSION := 4.14.1
AXE_DIR := .cache/axe-core@$(AXE_VERSION)
AXE := $(AXE_DIR)/axe.min.js

# mypy --strict over the library, emulator, devserver, bench, tfschema and the tests (relaxed: pyproject), then each
# function on its own: the three entry points are all called `main`, so one run would see them collide.
MYPY_ALL = $(PY) -m mypy && for fn in booking sharing sync; do $(PY) -m mypy functions/$$fn/main.py || exit 1; done

.PHONY: test run emulator lint typecheck bench package checkov provider-schema schema-check clean axe

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(AXE):
	mkdir -p $(AXE_DIR)
	cd $(AXE_DIR) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar -xzf axe-core-$(AXE_VERSION).tgz --strip-components=1 package/axe.min.js package/package.json package/LICENSE \
	  && rm axe-core-$(AXE_VERSION).tgz

axe: $(AXE)

test: $(STAMP) provider-schema $(AXE)
	scripts/install-browser.sh
	$(PY) -m ruff check .
	$(MYPY_ALL)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(MYPY_ALL)

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
# only the .jsii manifests are kept, in .cache/provider-schema (200 MB); tests/infra/test_provider_schema.py reads
# them offline.
provider-schema: $(STAMP)
	$(PY) -m tfschema --fetch-only

schema-check: provider-schema
	$(PY) -m tfschema

clean:
	rm -rf $(VENV) .checkov-venv .cache/provider-schema .cache/axe-core@* dist .pytest_cache .mypy_cache .ruff_cache
