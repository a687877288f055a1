#!/usr/bin/env bash
# Print the path of a working python<VERSION> (PATH first, then a pyenv install), or nothing when absent.
# Usage: find_python.sh 3.12
v=$1
if p=$(command -v "python$v") && "$p" -c '' 2>/dev/null; then echo "$p"; exit 0; fi
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if [ -x "$p" ]; then echo "$p"; exit 0; fi
done
exit 0  # not found: print nothing
