#!/usr/bin/env bash
# Idempotent set-up of the Isaac Lab backend's environment: .venv-isaaclab (Python 3.12)
# with Isaac Lab 3 (kit-less, Newton), mujoco-usd-converter and h2s2r itself (editable,
# the same source as .venv). About 8 GB (Isaac Lab pins a CUDA build of torch 2.11) and
# 2-10 minutes from the registries; about a second when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-isaaclab
# A Python 3.12 that runs: $PYTHON312, python3.12 on PATH, or pyenv's (whose shim
# refuses to run a version that is installed but not selected).
PYTHON=""
for p in "${PYTHON312:-}" python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
  if [ -n "$p" ] && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
    PYTHON=$p
    break
  fi
done
if [ -z "$PYTHON" ]; then
  echo "[isaaclab-env] Isaac Lab 3 needs Python 3.12: install it (e.g. pyenv install 3.12)" \
       "or point PYTHON312 at one" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[isaaclab-env] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
stamp=$VENV/.h2s2r-setup-stamp
want=$(cat requirements-isaaclab.lock pyproject.toml scripts/isaaclab_env.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[isaaclab-env] installing Isaac Lab 3 and the pinned packages (requirements-isaaclab.lock, about 8 GB)"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-isaaclab.lock
"$VENV/bin/python" -m pip install -q "setuptools>=77"
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "[isaaclab-env] done: $VENV ready ($("$VENV/bin/python" --version)); e.g." \
     "$VENV/bin/h2s2r train WS --backend isaaclab"
