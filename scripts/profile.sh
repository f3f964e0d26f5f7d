#!/usr/bin/env bash
# Make sure an AiiDA profile exists and is set up for aiida-clathrate (computer, codes, pseudopotentials).
# Default: the embedded profile "clathrate" (SQLite + ZeroMQ broker) in the project-local AIIDA_PATH.
# Users with their own profile: AIIDA_PATH=~/.aiida AIIDA_PROFILE=myprofile make demo
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export AIIDA_PATH="${AIIDA_PATH:-$PWD/.aiida}"
PROFILE="${AIIDA_PROFILE:-clathrate}"
VERDI="$VENV/bin/verdi"
if ! "$VERDI" profile show "$PROFILE" >/dev/null 2>&1; then
    echo "[profile] creating the embedded profile '$PROFILE' (SQLite + ZeroMQ) in $AIIDA_PATH"
    "$VERDI" presto --profile-name "$PROFILE" --use-zeromq >/dev/null
fi
"$VENV/bin/aiida-clathrate" -p "$PROFILE" setup
