#!/usr/bin/env bash
# Idempotent set-up: system libraries, .venv, pinned Python packages, the h2s2r package.
# Does nothing (in about a second) when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the report's test opens the page in headless Chromium.
APT_PACKAGES=(libusb-1.0-0 libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libosmesa6 chromium)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "[setup] need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.h2s2r-setup-stamp
want=$(cat requirements.lock pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[setup] installing pinned Python packages (requirements.lock)"
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: torch==2.13.0 resolves to the local CPU wheel; an unpinned
# torch (asked for by any later package) would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -r requirements.lock
# The editable install maps each top-level folder to its h2s2r.* package (PEP 660 with
# package-dir; SPDX license string): setuptools 77 or newer.
.venv/bin/python -m pip install -q "setuptools>=77"
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "[setup] done: $(.venv/bin/python --version), .venv ready"
