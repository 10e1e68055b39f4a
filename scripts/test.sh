#!/usr/bin/env bash
# Lint and the whole test suite, in the project's own virtual environment (created if missing).
#   bash scripts/test.sh [extra pytest args]
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

echo "== ruff"
ruff check specc tests bench scripts

echo "== pytest"
status=0
python -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
