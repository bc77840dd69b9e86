# Sourced by scripts/test and scripts/demo: makes .venv with tradebus and its dev tools.
# Needs only Python >= 3.11 on PATH. Re-installs when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRADEBUS_VENV:-$ROOT/.venv}"

pick_python() {
  for cand in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "tradebus needs Python >= 3.11 on PATH (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "tradebus: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.tradebus-installed"
want="$(cat "$ROOT/pyproject.toml" | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "tradebus: installing dependencies into $VENV (first run takes a minute)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2 || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]" >&2
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
# Byte-compile tradebus's own modules (a no-op when they are up to date). Every runner, venue and
# strategy process imports ~250 of them; without .pyc files (PYTHONDONTWRITEBYTECODE=1, a
# read-only checkout) each process compiles them again: ~0.4 s of CPU per process start.
"$VENV/bin/python" -m compileall -q -j 0 exchange_runner exchanges strategy_client strategies bridge recorder gateway scripts tests >/dev/null || true
