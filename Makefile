# Two set-up-free entry points: `make demo` (main job on the embedded emulator) and `make test`.
# Each creates the virtual environment and installs everything it needs on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
KQLP := tests/kqlparser

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[emulator,charts,test]'
	touch $@

$(KQLP)/node_modules/.installed: $(KQLP)/package.json $(KQLP)/package-lock.json
	cd $(KQLP) && npm ci --silent --no-audit --no-fund
	touch $@

demo: $(BIN)/.installed
	$(BIN)/m365sentinel onboard --emulator

test: $(BIN)/.installed $(KQLP)/node_modules/.installed
	$(BIN)/ruff check m365sentinel tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(KQLP)/node_modules
