#!/usr/bin/env bash
# slurm-cluster.sh - a real one-machine Slurm cluster for maestro's Slurm
# backend: its tests and benchmarks submit to it with the ordinary Slurm
# commands (sbatch, squeue, scancel, sacct). Debian/Ubuntu (apt), run as root,
# works without systemd: every daemon is started and stopped directly.
#
# Usage:
#   scripts/slurm-cluster.sh start [--accounting] [--cpus N] [--min-job-age S]
#       Idempotent. Installs missing packages, (re)writes the configuration,
#       restarts what a changed configuration needs, starts the daemons that
#       are not running, and returns once a job submitted right after it
#       starts within a second or two.
#       --accounting    also MariaDB + slurmdbd: sacct works, and the QOS
#                       'maestro-limit' (MaxSubmitJobsPerUser=3) is enforced.
#                       Without it, a running slurmdbd/MariaDB is stopped and
#                       sacct says "Slurm accounting storage is disabled".
#       --cpus N        CPUs the node offers (default: nproc; more than nproc
#                       oversubscribes, for many tiny jobs).
#       --min-job-age S seconds a finished job stays visible to squeue and
#                       scontrol (Slurm's MinJobAge; default 300).
#   scripts/slurm-cluster.sh stop [--purge]
#       Cancels all jobs, then stops the daemons (found through their pid
#       files, each checked against /proc/<pid>/comm; nothing is killed by
#       name). --purge also wipes Slurm's saved state (job ids restart at 1)
#       and, if MariaDB is still up, the accounting database.
#   scripts/slurm-cluster.sh status
#       Which daemons run, the accounting mode, sinfo. Exit 0 only if the node
#       takes jobs.
#
# What the cluster offers: node $(hostname -s) in partition 'main' (the
# default), CPUs as above, RealMemory from `slurmd -C` (rounded down) but not
# consumable (--mem is checked against it, never reserved), two fake GPUs as
# GRES (gpu:2; --gres=gpu:1 sets CUDA_VISIBLE_DEVICES, GPU_DEVICE_ORDINAL,
# SLURM_JOB_GPUS), process tracking by process group (proctrack/pgid).
# Logs: /var/log/slurm/; every finished job also gets a line in
# /var/log/slurm/jobcomp.log, kept after squeue forgets the job.
# With --accounting: ClusterName maestro, AccountingStorageEnforce=
# associations,limits,qos; every user in `getent passwd` gets an association
# in account 'maestro' (root keeps account 'root'), all may use QOS normal
# (the default) and maestro-limit.
#
# For tests:
#   - a node set DOWN by hand (scontrol update nodename=$(hostname -s)
#     state=down reason=...) stays DOWN until
#     `scontrol update nodename=$(hostname -s) state=resume` (or the next
#     `start`, which resumes a DOWN or DRAINED node); it is idle ~0.3 s later.
#   - a requeued job may start again 10 s after the requeue (cred_expire=10,
#     Slurm's default is 120), in practice 10-40 s: the next pass that looks.
#   - the first start installs the packages (about 10 s, 20 s with
#     accounting); a start from stopped daemons takes ~3 s (5 s with
#     accounting), most of it slurmctld's first scheduling pass.
#
# Output is progress text only; the script ignores SIGPIPE, so piping it into
# `head` does not cut a start short.
set -euo pipefail
trap '' PIPE

readonly ME="slurm-cluster"
readonly MARKER="# Managed by maestro's scripts/slurm-cluster.sh: rewritten by every start; change the script, not this file."
readonly CLUSTER=maestro
readonly PARTITION=main
readonly ACCOUNT=maestro
readonly LIMIT_QOS=maestro-limit
readonly LIMIT_QOS_MAX_SUBMIT=3
readonly CONF_DIR=/etc/slurm
readonly SLURM_CONF=$CONF_DIR/slurm.conf
readonly GRES_CONF=$CONF_DIR/gres.conf
readonly DBD_CONF=$CONF_DIR/slurmdbd.conf
readonly LOG_DIR=/var/log/slurm
readonly STATE_DIR=/var/lib/slurm/slurmctld
readonly SPOOL_DIR=/var/lib/slurm/slurmd
# Fake GPU device files: character devices nothing opens (task/none confines
# nothing), outside /dev so that no other software takes this machine for one
# with NVIDIA GPUs.
readonly GPU_DIR=/var/lib/slurm/fake-gpu
readonly GPU_COUNT=2
# Marks a MariaDB that this script started (so `stop` never stops one it did not).
readonly OWN_MARIADB=/var/lib/slurm/slurm-cluster.mariadb
readonly DB_NAME=slurm_acct_db
readonly DB_USER=slurm
readonly DB_PASS=maestro-local-only   # MariaDB listens on localhost only
readonly APT_LOG=/var/log/slurm-cluster-apt.log

# name -> pid file, and the command names (/proc/<pid>/comm) a live one has
declare -A PIDFILE=(
  [munged]=/run/munge/munged.pid
  [mariadbd]=/run/mysqld/mysqld.pid
  [slurmdbd]=/run/slurmdbd.pid
  [slurmctld]=/run/slurmctld.pid
  [slurmd]=/run/slurmd.pid
)
declare -A COMMS=(
  [munged]="munged"
  [mariadbd]="mariadbd mysqld"
  [slurmdbd]="slurmdbd"
  [slurmctld]="slurmctld"
  [slurmd]="slurmd"
)

# --- small helpers ------------------------------------------------------------
# Output is best effort: a reader that went away must not stop the script.
say() { printf '[%s] %s\n' "$ME" "$*" 2>/dev/null || true; }
fail() { printf '[%s] ERROR: %s\n' "$ME" "$*" >&2 2>/dev/null || true; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Run a daemon's start command with SIGPIPE back at its default (this script
# ignores it, and an ignored signal would be inherited) and with no link to our
# stdin/stdout/stderr (a caller reading our output must see EOF when we exit).
launch() { ( trap - PIPE; exec "$@" </dev/null >/dev/null 2>&1 ); }

need_root() {
  [[ $(id -u) == 0 ]] && return 0
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
  fail "must run as root"
}

# Prints the pid of daemon $1 if its pid file names a live process with one of
# the expected command names; fails otherwise (no file, stale, or foreign pid:
# slurmctld runs as user slurm and cannot remove its pid file, so stale files
# are normal).
running_pid() {
  local file=${PIDFILE[$1]} pid comm want
  [[ -s $file ]] || return 1
  pid=$(tr -cd '0-9' <"$file")
  [[ -n $pid ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  for want in ${COMMS[$1]}; do
    if [[ $comm == "$want" ]]; then echo "$pid"; return 0; fi
  done
  return 1
}
is_running() { running_pid "$1" >/dev/null; }

# stop_daemons GRACE NAME...: SIGTERM to each named daemon that runs (through
# its pid file), all at once; SIGKILL to any still there after GRACE seconds.
# Removes the pid files.
stop_daemons() {
  local grace=$1 name pid t0 i alive
  shift
  local -A pids=()
  t0=$(now)
  for name in "$@"; do
    if pid=$(running_pid "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for name in "${!pids[@]}"; do
    if kill -0 "${pids[$name]}" 2>/dev/null; then
      say "$name (pid ${pids[$name]}) ignored SIGTERM for ${grace}s: SIGKILL"
      kill -KILL "${pids[$name]}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do kill -0 "${pids[$name]}" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  for name in "$@"; do rm -f "${PIDFILE[$name]}"; done
  ((${#pids[@]} == 0)) || say "stopped ${!pids[*]} in $(since "$t0")s"
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s
wait_until() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || fail "gave up after ${secs}s waiting for $what"
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
munge_works() { munge -n | unmunge; }
controller_up() { scontrol ping | grep -q 'is UP'; }
node_state() { sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n 1 || true; }

# write_managed FILE MODE OWNER CONTENT: writes FILE only if CONTENT differs;
# an existing file not written by this script is kept beside it first.
# Returns 0 if the file changed, 1 if it was already up to date.
write_managed() {
  local file=$1 mode=$2 owner=$3 content=$4
  if [[ -f $file ]] && [[ $(cat "$file") == "$content" ]]; then
    chmod "$mode" "$file"; chown "$owner" "$file"
    return 1
  fi
  if [[ -f $file ]] && ! grep -qF "$MARKER" "$file"; then
    local keep
    keep="$file.before-slurm-cluster.$(date +%Y%m%d%H%M%S)"
    cp -p "$file" "$keep"
    say "kept the existing $file as $keep"
  fi
  printf '%s\n' "$content" >"$file"
  chmod "$mode" "$file"; chown "$owner" "$file"
  say "wrote $file"
  return 0
}

# --- start ----------------------------------------------------------------------
install_packages() {
  local want=(slurmctld slurmd slurm-client munge) missing=() p t0 own_policy=0
  ((ACCOUNTING)) && want+=(slurmdbd mariadb-server)
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  t0=$(now)
  say "installing ${missing[*]} (log: $APT_LOG)"
  # No init system here: keep the packages' scripts from starting daemons.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, from slurm-cluster.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  {
    # stale lists would name .debs the mirror no longer has; an unrelated
    # broken source must not stop us, so the update may fail
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update || true
    DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 \
      --no-install-recommends install "${missing[@]}"
  } >>"$APT_LOG" 2>&1 || rc=$?
  ((own_policy)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then
    tail -n 20 "$APT_LOG" >&2 || true
    fail "apt-get install failed (exit $rc); see $APT_LOG"
  fi
  say "installed in $(since "$t0")s"
}

prepare_host() {
  HOST=$(hostname -s)
  [[ -n $HOST ]] || fail "hostname -s is empty"
  if ! getent hosts "$HOST" >/dev/null; then
    say "$HOST does not resolve: adding '127.0.0.1 $HOST' to /etc/hosts"
    printf '127.0.0.1 %s\n' "$HOST" >>/etc/hosts
  fi
  getent passwd slurm >/dev/null || fail "no user 'slurm' (is the slurmctld package installed?)"
  getent passwd munge >/dev/null || fail "no user 'munge' (is the munge package installed?)"
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
  install -d -o munge -g munge -m 0711 /var/lib/munge
  install -d -o slurm -g slurm -m 0755 /var/lib/slurm "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    mungekey --create --force --keyfile=/etc/munge/munge.key 2>/dev/null ||
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  # Fake GPUs: character devices with the numbers of /dev/null. They must be
  # device files: with regular files slurmd logs "not a valid character or
  # block device" and a --gres=gpu job gets no CUDA_VISIBLE_DEVICES. slurmd
  # reads them when it starts, so a (re)created one restarts it.
  install -d -m 0755 "$GPU_DIR"
  local i
  GPUS_CHANGED=0
  for ((i = 0; i < GPU_COUNT; i++)); do
    if [[ ! -c $GPU_DIR/nvidia$i ]]; then
      rm -f "$GPU_DIR/nvidia$i"
      mknod -m 0666 "$GPU_DIR/nvidia$i" c 1 3
      GPUS_CHANGED=1
    fi
  done
  touch "$LOG_DIR/jobcomp.log"
  chown slurm:slurm "$LOG_DIR/jobcomp.log"
}

node_memory_mb() {
  local mb
  mb=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
  [[ -n $mb ]] || mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  # Rounded down to 512 MB: a reading that moves by a few MB between starts
  # must not change slurm.conf (that would restart the daemons every time).
  if ((mb >= 1024)); then mb=$((mb / 512 * 512)); fi
  echo "$mb"
}

# Renders slurm.conf and gres.conf; CONFIG_CHANGED=1 if either was rewritten.
write_slurm_config() {
  local accounting_lines mem
  mem=$(node_memory_mb)
  if ((ACCOUNTING)); then
    # Limits (the QOS's MaxSubmitJobsPerUser) are enforced only with 'limits',
    # which implies 'associations': every submitting user needs an association
    # (sync_accounting gives one to every local user). 'qos' makes a job's
    # --qos be one its association may use.
    accounting_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageEnforce=associations,limits,qos
AccountingStorageTRES=gres/gpu"
  else
    accounting_lines="AccountingStorageType=accounting_storage/none"
  fi
  local conf
  conf=$(
    cat <<EOF
$MARKER
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
SlurmctldPidFile=${PIDFILE[slurmctld]}
SlurmdPidFile=${PIDFILE[slurmd]}
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
MailProg=/bin/true
MpiDefault=none
# No cgroups: a job's processes are its process group; tasks are not bound.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
# A node that was DOWN because it did not respond comes back by itself when
# slurmd registers; one set DOWN by hand (scontrol update ... state=down) stays
# DOWN until 'scontrol update nodename=<node> state=resume' (with 2, it came
# back at once, because slurmd answers).
ReturnToService=1
# A requeued job may start again after cred_expire seconds (default 120).
AuthInfo=cred_expire=10
SchedulerType=sched/backfill
# Schedule a submitted batch job on the next pass (~1 s) instead of batching
# submissions for up to 3 s (Slurm's default), which slows tiny jobs.
SchedulerParameters=batch_sched_delay=0
# A job whose dependency can never be met is cancelled, not left PENDING.
DependencyParameters=kill_invalid_depend
# CPUs are the only consumable resource; --mem is checked, never reserved.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# This file wins over the detected hardware (lets CPUs exceed nproc).
SlurmdParameters=config_overrides
# A finished job stays in squeue/scontrol this many seconds, and up to ~60 s more.
MinJobAge=$MIN_JOB_AGE
GresTypes=gpu
JobAcctGatherType=jobacct_gather/linux
# One line per finished job, kept after squeue forgets it, with or without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
$accounting_lines
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem Gres=gpu:$GPU_COUNT State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  )
  local gres
  gres="$MARKER
# $GPU_COUNT fake GPUs: no hardware behind the files, enough for Slurm to hand them out.
NodeName=$HOST Name=gpu File=$GPU_DIR/nvidia[0-$((GPU_COUNT - 1))]"
  CONFIG_CHANGED=$GPUS_CHANGED
  if write_managed "$SLURM_CONF" 0644 root:root "$conf"; then CONFIG_CHANGED=1; fi
  if write_managed "$GRES_CONF" 0644 root:root "$gres"; then CONFIG_CHANGED=1; fi
  # Saved state of another ClusterName makes slurmctld refuse to start.
  if [[ -f $STATE_DIR/clustername ]] && [[ $(cat "$STATE_DIR/clustername") != "$CLUSTER" ]]; then
    local aside
    aside="$STATE_DIR.other-cluster.$(date +%Y%m%d%H%M%S)"
    say "$STATE_DIR holds another cluster's state: moved to $aside"
    stop_daemons 30 slurmctld
    mv "$STATE_DIR" "$aside"
    install -d -o slurm -g slurm -m 0755 "$STATE_DIR"
  fi
}

ensure_munged() {
  if ! is_running munged; then
    rm -f "${PIDFILE[munged]}" /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    say "starting munged"
    launch runuser -u munge -- /usr/sbin/munged
    STARTED+=(munged)
  fi
  wait_until 20 "munged" munge_works
}

ensure_mariadb() {
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  if ! is_running mariadbd; then
    if [[ ! -d /var/lib/mysql/mysql ]]; then
      say "creating the MariaDB system tables"
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 ||
        fail "mariadb-install-db failed"
    fi
    install -d -o mysql -g adm -m 2750 /var/log/mysql
    say "starting mariadbd"
    # mariadbd does not daemonize: run it in its own session, in the background
    (
      trap - PIPE
      exec setsid /usr/sbin/mariadbd --user=mysql --pid-file="${PIDFILE[mariadbd]}" \
        </dev/null >>/var/log/mysql/slurm-cluster-mariadbd.log 2>&1
    ) &
    touch "$OWN_MARIADB"
    STARTED+=(mariadbd)
  fi
  wait_until 60 "mariadbd" mariadb-admin --protocol=socket ping
  mariadb --protocol=socket -e "
    CREATE DATABASE IF NOT EXISTS $DB_NAME;
    CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
    ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';"
}

ensure_slurmdbd() {
  local conf
  conf="$MARKER
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=${PIDFILE[slurmdbd]}
LogFile=$LOG_DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME"
  if write_managed "$DBD_CONF" 0600 slurm:slurm "$conf"; then stop_daemons 30 slurmdbd; fi
  if ! is_running slurmdbd; then
    rm -f "${PIDFILE[slurmdbd]}"
    say "starting slurmdbd"
    launch /usr/sbin/slurmdbd
    STARTED+=(slurmdbd)
  fi
  wait_until 60 "slurmdbd (port 6819)" port_open 6819
}

# The cluster, an account for everyone, the limited QOS, and an association
# for every local user: Slurm has no wildcard user, and with 'limits' enforced
# a user without an association cannot submit at all ("Invalid account or
# account/partition combination specified"). A user added to the machine
# later needs another `start --accounting`. Reads first, changes only what
# differs (each sacctmgr call costs ~0.2 s).
sync_accounting() {
  local s=(sacctmgr -i -Q) list=(sacctmgr -n -P list)
  if [[ -z $("${list[@]}" cluster format=cluster where cluster=$CLUSTER) ]]; then
    "${s[@]}" add cluster "$CLUSTER" >/dev/null
  fi
  local qos
  qos=$("${list[@]}" qos format=name,maxsubmitjobsperuser where name=$LIMIT_QOS)
  if [[ -z $qos ]]; then
    "${s[@]}" add qos "$LIMIT_QOS" MaxSubmitJobsPerUser="$LIMIT_QOS_MAX_SUBMIT" >/dev/null
  elif [[ $qos != "$LIMIT_QOS|$LIMIT_QOS_MAX_SUBMIT" ]]; then
    "${s[@]}" modify qos where name="$LIMIT_QOS" set MaxSubmitJobsPerUser="$LIMIT_QOS_MAX_SUBMIT" >/dev/null
  fi
  if [[ -z $("${list[@]}" account format=account where account=$ACCOUNT) ]]; then
    "${s[@]}" add account "$ACCOUNT" cluster="$CLUSTER" description="maestro tests" organization=maestro >/dev/null
  fi
  # The QOS list of the cluster's root association is inherited by every
  # association below it (account root with user root, account maestro with
  # everyone else) that does not set its own.
  local assocs
  assocs=$("${list[@]}" assoc format=account,user,qos,defaultqos where cluster=$CLUSTER)
  if ! grep -qxF "root||$LIMIT_QOS,normal|normal" <<<"$assocs"; then
    "${s[@]}" modify account where name=root cluster="$CLUSTER" \
      set qos=normal,"$LIMIT_QOS" defaultqos=normal >/dev/null
  fi
  local have missing=() u
  have=" $(cut -d'|' -f2 <<<"$assocs" | tr '\n' ' ') "
  while IFS=: read -r u _; do
    [[ $have == *" $u "* ]] || missing+=("$u")
  done < <(getent passwd)
  if ((${#missing[@]})); then
    local IFS=,
    "${s[@]}" add user name="${missing[*]}" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
    say "gave ${#missing[@]} local user(s) an association (account $ACCOUNT)"
  fi
}

stop_accounting_daemons() {
  if is_running slurmdbd || { [[ -e $OWN_MARIADB ]] && is_running mariadbd; }; then
    say "accounting is off: stopping slurmdbd and MariaDB"
  fi
  if [[ -e $OWN_MARIADB ]]; then
    stop_daemons 60 slurmdbd mariadbd
    rm -f "$OWN_MARIADB"
  else
    stop_daemons 30 slurmdbd
  fi
}

# Waits for slurmctld's first scheduling pass: it comes ~3 s after slurmctld
# starts, and a job submitted before it waits for it. `sdiag` counts the
# passes of the main scheduler ("Total cycles", 0 until the first one). This
# needs no job (a warm-up job would show in `squeue -t all`, and its Reason is
# no sign of a pass: it reads Priority at once behind another pending job).
wait_first_pass() {
  local t0 cycles deadline
  t0=$(now)
  deadline=$(($(date +%s) + 60))
  while :; do
    cycles=$(sdiag 2>/dev/null | awk '/^Main schedule statistics/ { m = 1 } m && /Total cycles:/ { print $3; exit }' || true)
    if [[ $cycles =~ ^[0-9]+$ ]] && ((cycles > 0)); then break; fi
    (($(date +%s) < deadline)) || fail "slurmctld made no scheduling pass in 60 s (sdiag: '${cycles:-no answer}')"
    sleep 0.1
  done
  say "first scheduling pass done (waited $(since "$t0")s)"
}

cmd_start() {
  ACCOUNTING=0 CPUS=$(nproc) MIN_JOB_AGE=300
  while (($#)); do
    case $1 in
      --accounting) ACCOUNTING=1 ;;
      --cpus) CPUS=${2:-}; shift ;;
      --cpus=*) CPUS=${1#*=} ;;
      --min-job-age) MIN_JOB_AGE=${2:-}; shift ;;
      --min-job-age=*) MIN_JOB_AGE=${1#*=} ;;
      *) fail "start: unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  [[ $CPUS =~ ^[1-9][0-9]*$ ]] || fail "--cpus wants a positive integer"
  [[ $MIN_JOB_AGE =~ ^[0-9]+$ ]] || fail "--min-job-age wants seconds"
  local t0
  t0=$(now)
  STARTED=()

  install_packages
  prepare_host
  write_slurm_config
  ensure_munged
  # a changed slurm.conf needs new daemons; stopped first, so that slurmctld
  # still reaches a slurmdbd it was using (it waits at exit for one it lost)
  if ((CONFIG_CHANGED)) && { is_running slurmd || is_running slurmctld; }; then
    say "configuration changed: restarting slurmd and slurmctld"
    stop_daemons 30 slurmd slurmctld
  fi
  if ((ACCOUNTING)); then
    ensure_mariadb
    ensure_slurmdbd
    sync_accounting
  else
    stop_accounting_daemons
  fi
  if ! is_running slurmctld; then
    rm -f "${PIDFILE[slurmctld]}"
    say "starting slurmctld"
    launch /usr/sbin/slurmctld
    STARTED+=(slurmctld)
  fi
  wait_until 60 "slurmctld (scontrol ping)" controller_up
  if ! is_running slurmd; then
    rm -f "${PIDFILE[slurmd]}"
    say "starting slurmd"
    launch /usr/sbin/slurmd
    STARTED+=(slurmd)
  fi

  # until the node takes jobs; a node left DOWN or DRAINED is resumed
  local state resumed=0 deadline=$(($(date +%s) + 60))
  while :; do
    state=$(node_state)
    case $state in
      idle | mixed | allocated | completing) break ;;
      down | drained | draining | fail | failing | down\* | drained\* | drain*)
        if ((!resumed)); then
          say "node $HOST is $state: resuming it"
          scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
          resumed=1
        fi ;;
    esac
    if (($(date +%s) >= deadline)); then
      sinfo -N -l >&2 || true
      tail -n 15 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
      fail "node $HOST not usable after 60 s (state '${state:-?}')"
    fi
    sleep 0.1
  done
  if ((${#STARTED[@]})); then wait_first_pass; fi

  say "ready in $(since "$t0")s: node $HOST, partition $PARTITION, $CPUS CPUs, gpu:$GPU_COUNT," \
    "MinJobAge=${MIN_JOB_AGE}s, accounting $( ((ACCOUNTING)) && echo "on (QOS $LIMIT_QOS)" || echo off)" \
    "(started: ${STARTED[*]:-nothing})"
}

# --- stop -------------------------------------------------------------------------
live_jobs() { squeue -h -o '%A' 2>/dev/null || true; }

cmd_stop() {
  local purge=0
  while (($#)); do
    case $1 in
      --purge) purge=1 ;;
      *) fail "stop: unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  local t0 ids deadline
  t0=$(now)
  if is_running slurmctld && command -v squeue >/dev/null; then
    ids=$(live_jobs | sort -u | tr '\n' ' ')
    if [[ -n ${ids// /} ]]; then
      say "cancelling jobs: $ids"
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      # SIGTERM now, SIGKILL after KillWait (30 s)
      deadline=$(($(date +%s) + 45))
      while [[ -n $(live_jobs) ]] && (($(date +%s) < deadline)); do sleep 0.2; done
      [[ -z $(live_jobs) ]] || say "warning: jobs still listed: $(live_jobs | tr '\n' ' ')"
    fi
  fi
  # slurmctld hands its last job records to slurmdbd, which needs MariaDB and
  # munged: stop in that order
  stop_daemons 30 slurmd slurmctld
  stop_daemons 30 slurmdbd
  local last=(munged)
  if [[ -e $OWN_MARIADB ]]; then
    if ((purge)) && is_running mariadbd; then
      mariadb --protocol=socket -e "DROP DATABASE IF EXISTS $DB_NAME" &&
        say "dropped the accounting database $DB_NAME"
    fi
    last+=(mariadbd)
  fi
  stop_daemons 60 "${last[@]}"
  rm -f "$OWN_MARIADB"
  if ((purge)); then
    find "$STATE_DIR" "$SPOOL_DIR" -mindepth 1 -delete 2>/dev/null || true
    say "wiped Slurm state ($STATE_DIR, $SPOOL_DIR)"
  fi
  say "stopped in $(since "$t0")s"
}

# --- status -----------------------------------------------------------------------
cmd_status() {
  (($# == 0)) || fail "status takes no arguments"
  HOST=$(hostname -s)
  local name pid mode=off usable=1
  if [[ -f $SLURM_CONF ]] && grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF"; then
    mode=on
  fi
  for name in munged mariadbd slurmdbd slurmctld slurmd; do
    if pid=$(running_pid "$name"); then
      printf '%-10s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-10s not running\n' "$name"
      case $name in
        munged | slurmctld | slurmd) usable=0 ;;
        slurmdbd) [[ $mode == off ]] || usable=0 ;;
      esac
    fi
  done 2>/dev/null || true
  printf 'accounting %s\n' "$mode" 2>/dev/null || true
  if command -v sinfo >/dev/null && is_running slurmctld; then
    sinfo -N -o '%N %P %T %c %m %G' 2>/dev/null || true
    case $(node_state) in
      idle | mixed | allocated | completing) ;;
      *) usable=0 ;;
    esac
  else
    usable=0
  fi
  if ((usable)); then
    say "usable"
  else
    say "not usable"
    return 1
  fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    start) need_root start "$@"; cmd_start "$@" ;;
    stop) need_root stop "$@"; cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
