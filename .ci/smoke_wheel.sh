#!/usr/bin/env bash
# The built wheel alone (no extras) in a clean venv, on each Python the package declares, where this machine has it:
# the CLI runs (`python -m m365sentinel --version`), what needs no extra imports, and each optional feature fails
# with MissingExtraError naming its extra (the CLI: one line, no traceback, exit 1).
# Usage: smoke_wheel.sh DIST_DIR  (PYTHONS="3.11 3.12 3.13" by default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dist=$(cd "$1" && pwd)
wheel=$(ls "$dist"/*.whl)
version=$(basename "$wheel" | cut -d- -f2)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # away from the source tree: only the installed wheel is importable
for v in ${PYTHONS:-3.11 3.12 3.13}; do
    py=$("$here/find_python.sh" "$v")
    if [ -z "$py" ]; then
        echo "smoke: Python $v not found on this machine: skipped"
        continue
    fi
    "$py" -m venv "venv$v"
    "venv$v/bin/pip" install --quiet --disable-pip-version-check "$wheel" 2>&1 | { grep -v "^WARNING: Location" || true; }
    got=$("venv$v/bin/python" -m m365sentinel --version)
    [ "$got" = "m365sentinel $version" ] || { echo "smoke: --version printed '$got'"; exit 1; }
    "venv$v/bin/python" - <<'PY'
import m365sentinel
from m365sentinel import kql  # no extra needed

text = kql.table("SecurityIncident").where(kql.col("Severity") == "High").to_kql()
assert text == 'SecurityIncident\n| where Severity == "High"', text
EMPTY = '{"tables": [{"name": "PrimaryResult", "columns": [], "rows": []}]}'
for what, extra, probe in (
    ("emulator", "emulator", lambda: __import__("m365sentinel.emulator")),
    ("charts", "charts", lambda: __import__("m365sentinel._charts", fromlist=["x"]).write_png(None, "x.png")),
    ("blob store", "blob", lambda: m365sentinel.BlobCheckpointStore.from_connection_string("UseDevelopmentStorage=true", "checkpoints")),
    ("pandas", "pandas", lambda: m365sentinel.QueryResult.from_json(EMPTY).to_pandas()),
    ("polars", "polars", lambda: m365sentinel.QueryResult.from_json(EMPTY).to_polars()),
):
    try:
        probe()
    except m365sentinel.MissingExtraError as exc:
        assert f"pip install 'm365sentinel[{extra}]'" in str(exc), exc
    else:
        raise SystemExit(f"{what} worked without its extra")
PY
    set +e
    "venv$v/bin/m365sentinel" onboard --emulator >out.txt 2>err.txt
    code=$?
    set -e
    if [ "$code" != 1 ] || [ "$(wc -l <err.txt)" != 1 ] || ! grep -qF "pip install 'm365sentinel[emulator]'" err.txt; then
        echo "smoke: onboard --emulator without the extra: exit $code, stderr:"; cat err.txt; exit 1
    fi
    echo "smoke: Python $("$py" -c 'import platform; print(platform.python_version())'): wheel $version ok"
done
