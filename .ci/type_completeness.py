"""Fail when pyright's type completeness of the public API falls under the floor (issue 16: at least 95 %).

Runs ``pyright --verifytypes m365sentinel --ignoreexternal`` (pyright from the test extra) with this interpreter's
environment first on PATH, so pyright resolves the installed package, and prints the score and any symbol whose type
is not fully known. Usage: ``python .ci/type_completeness.py [floor]`` (floor as a fraction, default 0.95).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FLOOR = float(sys.argv[1]) if len(sys.argv) > 1 else 0.95

bin_dir = Path(sys.executable).parent
pyright = shutil.which("pyright", path=str(bin_dir)) or shutil.which("pyright")
if pyright is None:
    sys.exit("type completeness: pyright is not installed (it is in the test extra)")
env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
run = subprocess.run(
    [pyright, "--verifytypes", "m365sentinel", "--ignoreexternal", "--outputjson"],
    capture_output=True,
    text=True,
    env=env,
    check=False,
)
try:
    report = json.loads(run.stdout)["typeCompleteness"]
except (ValueError, KeyError):
    sys.exit(f"type completeness: pyright gave no report (exit {run.returncode}):\n{run.stdout[-2000:]}{run.stderr}")
score = float(report["completenessScore"])
for symbol in report.get("symbols", []):
    if symbol.get("isExported") and not symbol.get("isTypeKnown"):
        print(f"  not fully typed: {symbol['name']}")
print(f"type completeness of the public API: {score:.1%} (floor {FLOOR:.0%}, pyright --verifytypes)")
if score < FLOOR:
    sys.exit(1)
