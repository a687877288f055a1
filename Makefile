# Two set-up-free entry points: `make demo` (main job on the embedded emulator) and `make test`.
# Each creates the virtual environment and installs everything it needs on a fresh machine.
# CI (.ci/run) also runs `make test-lowest` (the suite on the lowest declared version of every direct dependency),
# `make test-pythons` (the suite on Python 3.12 where found) and `make smoke` (sdist + wheel, twine check,
# the wheel alone on each Python found).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
KQLP := tests/kqlparser
# Azurite, the Azure Storage emulator, for the BlobCheckpointStore tests (pinned in its package.json).
AZURITE := tests/azurite
# Build and resolver tools, kept out of the project's own environments.
TOOLS := .venv-tools/bin
LOWEST := .venv-lowest/bin
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-lowest test-pythons dist smoke lint bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[aio,emulator,charts,blob,pandas,polars,cli,test]'
	touch $@

# The docs site's tools (the `docs` extra) in the project's venv, beside what `make test` installs.
$(BIN)/.docs-installed: pyproject.toml $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[aio,emulator,charts,blob,pandas,polars,cli,test,docs]'
	touch $@

$(KQLP)/node_modules/.installed: $(KQLP)/package.json $(KQLP)/package-lock.json
	cd $(KQLP) && npm ci --silent --no-audit --no-fund
	touch $@

$(AZURITE)/node_modules/.installed: $(AZURITE)/package.json $(AZURITE)/package-lock.json
	cd $(AZURITE) && npm ci --silent --no-audit --no-fund
	touch $@

$(TOOLS)/.installed:
	$(PY) -m venv .venv-tools
	$(TOOLS)/pip install --quiet 'uv>=0.5' 'twine>=6'
	touch $@

# uv's lowest-direct resolution: every dependency pyproject.toml names (extras included) at its floor,
# what those pull in at their newest, as a user's older environment would have them.
$(LOWEST)/.installed: pyproject.toml $(TOOLS)/.installed
	rm -rf .venv-lowest
	$(TOOLS)/uv venv --quiet --python $(PY) .venv-lowest
	$(TOOLS)/uv pip install --quiet --python $(LOWEST)/python --resolution lowest-direct -e '.[aio,emulator,charts,blob,pandas,polars,cli,test,docs]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/m365sentinel onboard --emulator

test: $(BIN)/.installed $(KQLP)/node_modules/.installed $(AZURITE)/node_modules/.installed
	$(BIN)/ruff check m365sentinel tests bench
	$(BIN)/ruff format --check m365sentinel tests bench
	$(BIN)/mypy
	$(BIN)/python .ci/type_completeness.py
	$(BIN)/pytest

test-lowest: $(LOWEST)/.installed $(KQLP)/node_modules/.installed $(AZURITE)/node_modules/.installed
	$(LOWEST)/python .ci/direct_versions.py
	$(LOWEST)/ruff check m365sentinel tests bench
	$(LOWEST)/ruff format --check m365sentinel tests bench
	$(LOWEST)/mypy --cache-dir .mypy_cache/lowest
	$(LOWEST)/python .ci/type_completeness.py
	$(LOWEST)/pytest
	NO_MKDOCS_2_WARNING=1 $(LOWEST)/mkdocs build --strict --site-dir build/site-lowest

# The suite on Python 3.12 and 3.13 where the machine has them (a line says when one is skipped).
test-pythons: $(TOOLS)/.installed $(KQLP)/node_modules/.installed $(AZURITE)/node_modules/.installed
	.ci/suite_on.sh 3.12 3.13

dist: $(TOOLS)/.installed
	rm -rf dist
	$(TOOLS)/uv build --quiet --out-dir dist
	$(TOOLS)/twine check --strict dist/*

smoke: dist
	.ci/smoke_wheel.sh dist

# The docs site (mkdocs.yml) with warnings as errors, into build/site; the examples on its pages run in `make test`
# (tests/docs). NO_MKDOCS_2_WARNING: Material's notice about MkDocs 2 is not a warning about this site.
docs: $(BIN)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-tools .venv-lowest .venv-3.* dist $(KQLP)/node_modules $(AZURITE)/node_modules
