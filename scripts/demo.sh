#!/usr/bin/env bash
# The main job: KRbB6C6 from the metal pair to Tc (harmonic phonons, SSCHA, electron-phonon,
# Eliashberg) on the fast protocol, through the daemon of the profile, waiting for the end.
# Starts the daemon (DEMO_WORKERS workers, default 1) if it is not running and stops it again
# afterwards (only if it started it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export AIIDA_PATH="${AIIDA_PATH:-$PWD/.aiida}"
PROFILE="${AIIDA_PROFILE:-clathrate}"
export PATH="$PWD/$VENV/bin:$PATH"  # the daemon's workers run `verdi`
started=0
if ! verdi -p "$PROFILE" daemon status >/dev/null 2>&1; then
    verdi -p "$PROFILE" daemon start "${DEMO_WORKERS:-1}" >/dev/null
    started=1
fi
stop_daemon() { if [ "$started" = 1 ]; then verdi -p "$PROFILE" daemon stop >/dev/null 2>&1 || true; fi; }
trap stop_daemon EXIT
aiida-clathrate -p "$PROFILE" launch compound K Rb --pressure 0 --protocol fast \
    --num-mpiprocs "${DEMO_MPIPROCS:-2}" --daemon --wait
