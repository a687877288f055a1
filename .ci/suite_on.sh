#!/usr/bin/env bash
# The test suite on other Pythons the package declares, where this machine has them, each in .venv-<version> with
# the newest releases the ranges allow (lint and types run once, on 3.11, in `make test`). The versions run side by
# side (one pytest process each, so two cores halve the wall time); each one's output is printed when it ends.
# Usage: suite_on.sh VERSION...   (needs .venv-tools from `make`)
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

suite() {
    local v=$1 py=$2 venv=.venv-$1
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        rm -rf "$venv"
        .venv-tools/bin/uv venv --quiet --python "$py" "$venv"
        .venv-tools/bin/uv pip install --quiet --python "$venv/bin/python" -e '.[aio,emulator,charts,blob,pandas,polars,cli,test]'
        touch "$venv/.installed"
    fi
    echo "suite: Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
    "$venv/bin/pytest" -p no:cacheprovider
}

pids=() names=()
for v in "$@"; do
    py=$(.ci/find_python.sh "$v")
    if [ -z "$py" ]; then
        echo "suite: Python $v not found on this machine: skipped"
        continue
    fi
    suite "$v" "$py" >"$logs/$v.log" 2>&1 &
    pids+=("$!") names+=("$v")
done
status=0
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then rc=0; else rc=$?; fi
    cat "$logs/${names[$i]}.log"
    if [ "$rc" -ne 0 ]; then
        echo "suite: Python ${names[$i]} failed (exit $rc)"
        status=1
    fi
done
exit "$status"
