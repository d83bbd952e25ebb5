#!/usr/bin/env bash
# A single-node Slurm cluster (Debian's slurm-wlm 22.05 and munge) in a
# directory, for the end-to-end test (tests/it/slurm.rs) and for trying
# `sbatch --array` by hand. No systemd, no cgroups, nothing outside DIR
# but the daemons; as root (munged runs as the munge user).
#
#   scripts/slurm_cluster.sh start DIR   # prints SLURM_CONF=... and one "pid NAME PID" line per daemon
#   scripts/slurm_cluster.sh stop DIR    # kills those PIDs
#
# Then `SLURM_CONF=DIR/slurm.conf sbatch ...` talks to it. The settings that
# make Slurm start in about a second without systemd: process tracking by
# /proc (proctrack/linuxproc), no task plugin, no accounting, no job
# accounting gatherer, so no cgroup.conf; the controller and the node are
# pinned to 127.0.0.1 so the host name need not resolve; the scheduler runs
# at once on submit, so array tasks start without waiting.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# Bounded wait: `wait_for SECONDS WHAT COMMAND...` fails loudly on timeout.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "slurm_cluster: timed out after ${seconds}s waiting for $what" >&2
            for log in "$dir"/munge/munged.log "$dir"/slurmctld.log "$dir"/slurmd.log; do
                [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
            done
            return 1
        fi
        sleep 0.1
    done
}

stop() {
    [ -f "$dir/pids" ] || return 0
    while read -r name pid; do
        kill "$pid" 2>/dev/null || true
    done <"$dir/pids"
    while read -r name pid; do
        # Bounded: a daemon that ignores SIGTERM for 10 s gets SIGKILL.
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done <"$dir/pids"
    rm -f "$dir/pids"
}

start() {
    for tool in munged slurmctld slurmd sbatch setpriv; do
        command -v "$tool" >/dev/null || {
            echo "slurm_cluster: $tool not found (apt-get install slurm-wlm munge)" >&2
            exit 1
        }
    done
    [ "$(id -u)" = 0 ] || {
        echo "slurm_cluster: must run as root (slurmd and munged need it)" >&2
        exit 1
    }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"
    # munged runs as munge and must reach DIR: a mode-700 directory above
    # it (a home directory, a tempdir) would leave it waiting, silently.
    if ! setpriv --reuid=munge --regid=munge --clear-groups test -x "$dir"; then
        # The first directory from / down that munge cannot enter.
        local up="" part
        IFS=/ read -ra parts <<<"${dir#/}"
        for part in "${parts[@]}"; do
            up="$up/$part"
            setpriv --reuid=munge --regid=munge --clear-groups test -x "$up" || break
        done
        echo "slurm_cluster: the munge user cannot reach $dir: $up is mode" \
            "$(stat -c %a "$up") (put DIR where others may enter, or chmod o+x $up)" >&2
        exit 1
    fi
    : >"$dir/pids"
    # Whatever happens next, daemons already started are not left behind.
    trap 'echo "slurm_cluster: start failed, stopping what started" >&2; stop' ERR

    # munge: its own key, socket and logs in DIR/munge, owned by munge
    # (munged refuses keys and directories others can write). /run/munge
    # too, where Debian's tools look for it by default.
    install -d -o munge -g munge -m 755 /run/munge "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    local socket="$dir/munge/munge.socket"
    setpriv --reuid=munge --regid=munge --clear-groups \
        munged --foreground --force --key-file="$dir/munge/munge.key" \
        --socket="$socket" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
        </dev/null >>"$dir/munge/munged.out" 2>&1 &
    echo "munged $!" >>"$dir/pids"
    wait_for 20 "munged's socket" test -S "$socket"

    # Two free TCP ports for slurmctld and slurmd (another cluster may run):
    # random ones no socket uses (/proc/net/tcp lists ports in hex).
    local ports="" port
    while [ "$(wc -w <<<"$ports")" -lt 2 ]; do
        port=$((20000 + RANDOM % 40000))
        grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp /proc/net/tcp6 2>/dev/null ||
            [[ " $ports " == *" $port "* ]] || ports="$ports $port"
    done
    read -r ctld_port slurmd_port <<<"$ports"

    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    # RealMemory must not exceed what slurmd finds, or the node drains.
    memory=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
    mkdir -p "$dir/state" "$dir/spool"
    cat >"$dir/slurm.conf" <<CONF
ClusterName=pessimist
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -D -i -f "$SLURM_CONF" </dev/null >>"$dir/slurmctld.out" 2>&1 &
    echo "slurmctld $!" >>"$dir/pids"
    slurmd -D -f "$SLURM_CONF" </dev/null >>"$dir/slurmd.out" 2>&1 &
    echo "slurmd $!" >>"$dir/pids"
    wait_for 60 "the node to be idle" sh -c "sinfo -h -N -o '%T' | grep -qx idle"
    trap - ERR

    echo "SLURM_CONF=$SLURM_CONF"
    while read -r name pid; do
        echo "pid $name $pid"
    done <"$dir/pids"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
