#!/usr/bin/env bash
# A single-node Slurm on this machine, from Debian's packages (slurm-wlm, munge): what the
# cluster how-to (docs/howto/cluster.md) and its CI test (tests/test_slurm.py) run workchains on.
#
#   scripts/slurm_single_node.sh start   # install if missing, configure, start munged/slurmctld/slurmd
#   scripts/slurm_single_node.sh status  # sinfo
#   scripts/slurm_single_node.sh stop
#
# Runs as root (as CI and these machines do). The configuration is the smallest that runs jobs
# without cgroups or systemd: one node (this host) with all its cores, one partition `debug`,
# no accounting. It overwrites /etc/slurm/slurm.conf: do not run it on a machine with a Slurm of
# its own.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm

install() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q slurm-wlm munge >/dev/null
    }
}

configure() {
    local host cpus memory_mib
    host="$(hostname -s)"
    cpus="$(nproc)"
    memory_mib="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
    mkdir -p /etc/slurm "$STATE" "$SPOOL" "$LOGS"
    cat >"$CONF" <<EOF
ClusterName=clathrate
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=${STATE}
SlurmdSpoolDir=${SPOOL}
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${LOGS}/slurmctld.log
SlurmdLogFile=${LOGS}/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=${host} CPUs=${cpus} RealMemory=${memory_mib} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge
    chown munge:munge /run/munge
}

start() {
    install
    configure
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
    fi
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 1 30); do
        if sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then
            sinfo
            return
        fi
        sleep 1
    done
    echo "slurm did not come up; logs in $LOGS" >&2
    sinfo >&2 || true
    exit 1
}

stop() {
    pkill -x slurmd || true
    pkill -x slurmctld || true
    pkill -x munged || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) sinfo ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
