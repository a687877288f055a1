#!/usr/bin/env bash
# The test suite on other Pythons the package declares, where this machine has them, each in .venv-<version> with
# the newest releases the ranges allow (lint and types run once, on 3.11, in `make test`).
# Usage: suite_on.sh VERSION...   (needs .venv-tools from `make`)
set -euo pipefail
cd "$(dirname "$0")/.."
for v in "$@"; do
    py=$(.ci/find_python.sh "$v")
    if [ -z "$py" ]; then
        echo "suite: Python $v not found on this machine: skipped"
        continue
    fi
    venv=.venv-$v
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        rm -rf "$venv"
        .venv-tools/bin/uv venv --quiet --python "$py" "$venv"
        .venv-tools/bin/uv pip install --quiet --python "$venv/bin/python" -e '.[emulator,charts,blob,pandas,polars,test]'
        touch "$venv/.installed"
    fi
    echo "suite: Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
    "$venv/bin/pytest"
done
