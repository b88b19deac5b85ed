#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter, or explains in one
# line what to install. Rasa 3.6 runs on Python 3.8 to 3.10 only.
set -u
works() { "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }

if command -v python3.10 >/dev/null 2>&1 && works python3.10; then
  command -v python3.10
  exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
    candidate="$(pyenv prefix "$v" 2>/dev/null)/bin/python3.10"
    if works "$candidate"; then
      echo "$candidate"
      exit 0
    fi
  done
fi
echo "error: Python 3.10 not found. Install it (e.g. 'pyenv install 3.10.13' or your OS package python3.10 with venv) and run make again." >&2
exit 1
