#!/usr/bin/env bash
# A one-node SLURM cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd) on this machine,
# for the workflow's SLURM test. Needs root and Debian's slurm-wlm, slurmdbd, munge and
# mariadb-server (.ci/run installs them).
#
#   one_node_cluster.sh start   # writes $STATE/slurm.conf; export SLURM_CONF=$STATE/slurm.conf
#   one_node_cluster.sh stop    # stops only the daemons this script started, in reverse order
#
# STATE defaults to /tmp/survsig-slurm (SURVSIG_SLURM_DIR overrides it).
set -euo pipefail

STATE=${SURVSIG_SLURM_DIR:-/tmp/survsig-slurm}
PARTITION=${SURVSIG_SLURM_PARTITION:-debug}
HOST=$(hostname -s)
export SLURM_CONF="$STATE/slurm.conf"

# Wait until a command succeeds, or fail naming what never came up.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    echo "one_node_cluster: $what did not come up; logs in $STATE/log" >&2
    exit 1
}

# Start a daemon in the background and keep its PID so that `stop` ends only ours.
start_daemon() {
    local name=$1
    shift
    "$@" >"$STATE/log/$name.out" 2>&1 &
    echo $! >"$STATE/pids/$name"
}

write_configs() {
    mkdir -p "$STATE"/{log,pids,spool/ctld,spool/d,mariadb}
    local node
    node=$(slurmd -C | head -n 1)
    cat >"$STATE/slurm.conf" <<EOF
ClusterName=survsig
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
MailProg=/bin/true
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/pids/slurmctld.pid
SlurmdPidFile=$STATE/pids/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/linux
AccountingStoreFlags=job_comment
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=500
EOF
    cat >"$STATE/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=$HOST
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$STATE/pids/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=survsig
StoragePort=3306
EOF
    chmod 600 "$STATE/slurmdbd.conf"
}

start() {
    if [[ -e "$STATE/pids/slurmd" ]]; then
        echo "one_node_cluster: already started (state in $STATE); stop it first" >&2
        exit 1
    fi
    write_configs
    # srun inside batch jobs reads the default path, whatever SLURM_CONF the submitter had
    if [[ ! -e /etc/slurm/slurm.conf ]]; then
        mkdir -p /etc/slurm
        ln -s "$SLURM_CONF" /etc/slurm/slurm.conf
        touch "$STATE/pids/etc-slurm-conf-link"
    elif [[ "$(readlink -f /etc/slurm/slurm.conf)" != "$(readlink -f "$SLURM_CONF")" ]]; then
        echo "one_node_cluster: /etc/slurm/slurm.conf belongs to another cluster; not touching it" >&2
        exit 1
    fi

    mkdir -p /run/munge
    chown munge:munge /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    start_daemon munged runuser -u munge -- /usr/sbin/munged --foreground
    wait_for munge munge -n

    # MariaDB on its own folder (data, socket, log), on loopback
    local db="$STATE/mariadb"
    chown mysql:mysql "$db"
    if [[ ! -d "$db/data/mysql" ]]; then
        mariadb-install-db --user=mysql --datadir="$db/data" --auth-root-authentication-method=socket \
            >"$STATE/log/mariadb-install.out" 2>&1
    fi
    start_daemon mariadbd runuser -u mysql -- /usr/sbin/mariadbd --datadir="$db/data" \
        --socket="$db/mysql.sock" --bind-address=127.0.0.1 --port=3306 \
        --pid-file="$db/mariadbd.pid" --log-error="$db/mariadbd.log"
    wait_for mariadb mariadb --socket="$db/mysql.sock" -e "SELECT 1"
    mariadb --socket="$db/mysql.sock" -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'survsig';
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'survsig';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
        FLUSH PRIVILEGES;"

    start_daemon slurmdbd /usr/sbin/slurmdbd -D
    wait_for slurmdbd sacctmgr --noheader list cluster
    start_daemon slurmctld /usr/sbin/slurmctld -D -i
    wait_for slurmctld scontrol ping
    start_daemon slurmd /usr/sbin/slurmd -D -f "$SLURM_CONF"
    wait_for slurmd bash -c "sinfo --noheader --states=idle --format=%n | grep -qx '$HOST'"
    echo "one_node_cluster: up (SLURM_CONF=$SLURM_CONF, partition $PARTITION)"
}

stop() {
    local name pid
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        [[ -e "$STATE/pids/$name" ]] || continue
        pid=$(cat "$STATE/pids/$name")
        # runuser forwards the signal to the daemon it runs
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$STATE/pids/$name"
    done
    if [[ -e "$STATE/pids/etc-slurm-conf-link" ]]; then
        rm -f /etc/slurm/slurm.conf "$STATE/pids/etc-slurm-conf-link"
    fi
    echo "one_node_cluster: stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
