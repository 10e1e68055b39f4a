# Sourced by scripts/test.sh and scripts/example.sh: create or reuse the project's virtual
# environment and bring it up to date with requirements/ci.txt and the package itself.
# The install is skipped when nothing it depends on changed since the last one (a hash in the venv).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPECC_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQS="$ROOT/requirements/ci.txt"
STAMP="$VENV/.specc-install-hash"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi

want="$(cat "$REQS" "$ROOT/pyproject.toml" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)-$("$VENV/bin/python" -V 2>&1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
    echo "installing pinned dependencies into $VENV (skipped next time while requirements/ci.txt is unchanged)"
    pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
    # torch alone first, so that pip settles on the CPU build before anything else asks for torch.
    "${pip[@]}" "$(grep -E '^torch==' "$REQS")"
    "${pip[@]}" -r "$REQS"
    "${pip[@]}" --no-deps -e "$ROOT"
    echo "$want" > "$STAMP"
fi

export PATH="$VENV/bin:$PATH"
cd "$ROOT"
