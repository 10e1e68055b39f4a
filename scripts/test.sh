#!/usr/bin/env bash
# Lint and the whole test suite, in the project's own virtual environment (created if missing).
#   bash scripts/test.sh [extra pytest args]
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

echo "== ruff"
ruff check specc tests bench scripts

echo "== import contracts (pyproject.toml [tool.importlinter])"
lint-imports --no-cache

# tests/test_graph.py drives Debian's chromium (playwright cannot download its own browser here):
# install it when it is missing and we may (root with apt-get); the test skips, saying why, otherwise.
if [ ! -x "${SPECC_CHROMIUM:-/usr/bin/chromium}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium for the browser test (apt-get, log in /tmp/specc-chromium-install.log)"
    if ! timeout 900 env DEBIAN_FRONTEND=noninteractive bash -c \
        'apt-get update -qq && apt-get install -y -qq chromium' >/tmp/specc-chromium-install.log 2>&1; then
        echo "could not install chromium: the browser test will be skipped" >&2
    fi
fi

echo "== pytest"
status=0
# one worker per core (pytest-xdist), each taking the next test when it is free (worksteal: the long
# tests do not pile up on one worker); `bash scripts/test.sh -n 0` runs in this process alone.
python -m pytest -q -n auto --dist worksteal "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
