#!/usr/bin/env bash
# Install everything aiida-clathrate needs on a fresh Debian 12 machine (run as root).
# Idempotent: a second run finds what is installed and returns quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
STAMP="$VENV/.installed"

SYSTEM_PACKAGES="quantum-espresso gfortran liblapack-dev libblas-dev libopenmpi-dev pkg-config chromium"
missing=""
for pkg in $SYSTEM_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "[install] system packages:$missing"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
    echo "[install] virtual environment $VENV is up to date"
    exit 0
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
export PATH="$PWD/$VENV/bin:$PATH"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install -U pip setuptools wheel
# The CPU wheel first: a bare "torch" would pull a multi-GB CUDA build.
$PIP install "torch==2.13.0"
# cellconstructor imports numpy/six at build time without declaring them.
$PIP install numpy scipy six meson meson-python ninja
$PIP install --no-build-isolation "cellconstructor>=1.6.2"
$PIP install --no-build-isolation "python-sscha>=1.6.2"
$PIP install -e ".[dev,docs]"
touch "$STAMP"
echo "[install] done: $VENV"
