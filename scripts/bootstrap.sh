#!/usr/bin/env bash
# Set up a fresh checkout: a virtualenv with the project (and its `channels` extra: the fixtures), the
# reference app's and the dev tools' dependency groups, and redis-server if we can. target_app is not
# installed: it runs from the checkout (the repository root is on sys.path for `python -m`, pytest, harness).
# Usage: scripts/bootstrap.sh [harness args...]   e.g. scripts/bootstrap.sh run module-6.7
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
# Dependency groups (PEP 735) need pip >= 25.1.
.venv/bin/python -m pip install --quiet --upgrade "pip>=25.1"
.venv/bin/python -m pip install --quiet -e '.[channels]' --group dev

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing redis-server (Debian package) for the Redis tests" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "bootstrap: redis-server not found; Redis tests will be skipped (install it to run them)" >&2
  fi
fi

if [ "$#" -gt 0 ]; then
  exec .venv/bin/harness "$@"
fi
