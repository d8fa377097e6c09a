#!/usr/bin/env bash
# local-slurm.sh - bring up (and stop) a REAL one-node SLURM cluster on this machine.
#
# Target: Debian bookworm (slurm 22.05, munge 0.5.15, mariadb 10.11), running as root,
# with no systemd: every daemon is started directly by this script.
# The facts and pitfalls behind the choices below are in the project's notes on
# running SLURM locally (shared/reference/slurm-local.md); "pitfall N" in the comments
# refers to the numbered list there.
#
# Usage:
#   local-slurm.sh start [--accounting] [--fresh] [--quiet]
#       Install missing packages, write /etc/slurm/*.conf, start munged
#       [+ private mariadbd + slurmdbd], slurmctld and slurmd, and wait until the node
#       is usable. On success stdout gets exactly one line "local slurm ready: ...".
#       Progress goes to stderr (silenced by --quiet). Idempotent: if everything is up
#       with the same config it is a fast no-op; after a config change only the
#       daemons this script started are restarted.
#         --accounting  also run slurmdbd backed by a private MariaDB (127.0.0.1:3307),
#                       so plain `sacct` works. Without it `sacct -c` (jobcomp) works.
#         --fresh       cancel all jobs and wipe slurm state (job ids restart at 1),
#                       the job completion log and the private accounting database.
#         --quiet       no progress messages (errors and the ready line still print).
#   local-slurm.sh stop [--keep-jobs] [--quiet]
#       Cancel all jobs (unless --keep-jobs), then stop only the daemons recorded in
#       /run/slurm-local/owned/, by pid, and wait for them to exit.
#   local-slurm.sh status
#       Exit 0 and print one line if slurmctld answers and the node is usable;
#       otherwise print why on stdout and exit 1.
#   local-slurm.sh can-run
#       Exit 0 if this machine could run the cluster (root, Debian, apt-get);
#       otherwise print the reason on stdout and exit 1.
#
# Environment overrides:
#   SLURM_LOCAL_CPUS     CPUs the node advertises   (default: max(nproc, 8))
#   SLURM_LOCAL_GPUS     fake GPUs, 0 = none        (default: 2)
#   SLURM_LOCAL_MEM_MB   RealMemory of the node     (default: 95% of MemTotal)
#   SLURM_LOCAL_DB_PORT  private MariaDB TCP port   (default: 3307)
#   SLURM_LOCAL_TIMEOUT  seconds to wait per step   (default: 60)
#
# Ports are fixed (6817 slurmctld, 6818 slurmd, 6819 slurmdbd), so there can be only
# one such cluster per host.

set -euo pipefail

readonly RUN_DIR=/run/slurm-local
readonly OWNED_DIR=$RUN_DIR/owned
readonly LOCK_FILE=$RUN_DIR/lock
readonly ETC_DIR=/etc/slurm
readonly SPOOL_DIR=/var/spool/slurm-local
readonly LIB_DIR=/var/lib/slurm-local
readonly LOG_DIR=/var/log/slurm-local
readonly FAKEGPU_DIR=$LIB_DIR/fakegpu
readonly DB_DIR=$LIB_DIR/mysql
readonly DB_RUN_DIR=$RUN_DIR/mysql
readonly DB_SOCK=$DB_RUN_DIR/mysqld.sock
readonly DB_INIT_MARKER=$DB_DIR/.slurm-local-initialised
readonly CLUSTER=localcluster
readonly PARTITION=debug
readonly DBD_PORT=6819
readonly POLICY_RC=/usr/sbin/policy-rc.d
readonly POLICY_RC_SAVED=/usr/sbin/policy-rc.d.local-slurm-saved
readonly POLICY_RC_MARKER='# temporary policy-rc.d written by local-slurm.sh'

readonly BASE_PKGS=(slurmctld slurmd slurm-client munge)
readonly ACCT_PKGS=(slurmdbd mariadb-server)

# Every slurm command run by this script (and by sacctmgr) must read OUR config, even
# if the caller exported SLURM_CONF for something else.
export SLURM_CONF=$ETC_DIR/slurm.conf
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
# The daemons, mungekey and mariadbd live in /usr/sbin, which a non-login PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

QUIET=0
T0=${EPOCHREALTIME}

# --------------------------------------------------------------------------- helpers

usage() {
  sed -n '/^# Usage:/,/^# one such cluster/{s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
}

say() { ((QUIET)) || printf 'local-slurm: %s\n' "$*" >&2; }

# Print the part of a log written since byte offset $2 (default: whole file), last 25 lines.
log_tail() {
  local file=$1 off=${2:-0}
  [[ -r $file ]] || { printf '  (no log at %s)\n' "$file"; return 0; }
  printf -- '--- tail of %s ---\n' "$file"
  tail -c "+$((off + 1))" "$file" 2>/dev/null | tail -n 25 | sed 's/^/  /'
}

# die MESSAGE [LOGFILE [OFFSET]]...: clear message plus the relevant daemon log.
die() {
  local msg=$1; shift
  printf 'local-slurm: error: %s\n' "$msg" >&2
  while (($#)); do
    log_tail "$1" "${2:-0}" >&2
    shift; (($#)) && shift
  done
  exit 1
}

elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Is $1 a live (non-zombie) process, optionally with /proc/<pid>/comm == $2?
# Killed daemons are reparented to PID 1, which here is not an init that necessarily
# reaps them promptly, so a zombie must count as dead.
proc_alive() {
  local pid=$1 want=${2:-} comm stat
  is_uint "$pid" || return 1
  { read -r comm < "/proc/$pid/comm"; } 2>/dev/null || return 1
  [[ -z $want || $comm == "$want" ]] || return 1
  { read -r stat < "/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }           # comm may contain spaces/parens: state follows the last ") "
  [[ ${stat%% *} != [ZX] ]]
}

# owned_pid NAME: print the pid recorded for NAME if that process is still NAME.
# A stale record (dead process, or pid reused by something else) is dropped.
owned_pid() {
  local name=$1 f=$OWNED_DIR/$1 pid=''
  [[ -f $f ]] || return 1
  { read -r pid < "$f"; } 2>/dev/null || true
  if proc_alive "$pid" "$name"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$f" 2>/dev/null || true   # (a non-root `status` may not remove it)
  return 1
}

STARTED=()
SPAWNED_PID=''
# spawn NAME CMD...: start a daemon in the foreground mode of its own, detached into a
# new session (so a Ctrl-C or a process-group kill aimed at our caller does not hit it),
# with stdin/stdout/stderr on /dev/null and every other inherited fd closed (our lock
# fd 9, or a pipe/IPC fd a test runner handed us), so `out=$(local-slurm.sh start)` or
# Node's child_process.exec never wait on a pipe held open by a daemon. The daemon
# gets a minimal environment, not whatever the caller exported (SLURM_*, CUDA_*, ...).
# The subshell, setsid and env all exec in place, so $! is the daemon's pid.
# The pid is recorded BEFORE any readiness wait (pitfall 13: a daemon whose wait timed
# out must still be known as ours, so that `stop` can clean it up).
spawn() {
  local name=$1; shift
  (
    fds=(/proc/"$BASHPID"/fd/*)
    for fd in "${fds[@]##*/}"; do
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SLURM_CONF="$SLURM_CONF" \
      "$@" </dev/null >/dev/null 2>&1
  ) &
  SPAWNED_PID=$!
  printf '%s\n' "$SPAWNED_PID" > "$OWNED_DIR/$name"
  STARTED+=("$name")
  # Until setsid (and setpriv) have exec'ed, /proc/<pid>/comm is not yet NAME and
  # owned_pid would drop the record as stale (observed), so wait for the exec (or
  # the death, which the caller's readiness wait then reports with the log).
  local i
  for ((i = 0; i < 500; i++)); do
    proc_alive "$SPAWNED_PID" "$name" && return 0
    proc_alive "$SPAWNED_PID" || return 0
    sleep 0.01
  done
}

# wait_ready NAME PID LOG OFFSET DESCRIPTION CHECK...: poll CHECK until it succeeds;
# fail fast (with the daemon log) if the process dies, or after $TIMEOUT seconds.
wait_ready() {
  local name=$1 pid=$2 log=$3 off=$4 what=$5; shift 5
  local deadline=$((SECONDS + TIMEOUT))
  while :; do
    # Liveness first: a daemon that died (port in use, bad config) fails fast, before
    # a probe that might hang on whatever else holds its port.
    if [[ -n $pid ]] && ! proc_alive "$pid"; then
      rm -f "$OWNED_DIR/$name"
      die "$name exited while starting ($what)" "$log" "$off"
    fi
    "$@" && break
    ((SECONDS < deadline)) || die "$name: timed out after ${TIMEOUT}s waiting for: $what" "$log" "$off"
    sleep 0.1
  done
  # After setsid/setpriv exec'ed, the recorded pid must now really be the daemon.
  if [[ -n $pid ]] && ! proc_alive "$pid" "$name"; then
    die "$name: recorded pid $pid is not a running $name" "$log" "$off"
  fi
}

# stop_owned NAME...: SIGTERM the recorded daemons (in parallel), wait for them to
# exit, SIGKILL after 30 s. Never touches a process that is not the recorded NAME.
STOPPED=()
stop_owned() {
  local name pid pids=() names=() i deadline
  for name in "$@"; do
    if pid=$(owned_pid "$name"); then
      say "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
  done
  ((${#pids[@]})) || return 0
  deadline=$((SECONDS + 30))
  for i in "${!pids[@]}"; do
    while proc_alive "${pids[$i]}" "${names[$i]}"; do
      if ((SECONDS >= deadline)); then
        say "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 30s; sending SIGKILL"
        kill -KILL "${pids[$i]}" 2>/dev/null || true
        sleep 0.5
        break
      fi
      sleep 0.1
    done
    rm -f "$OWNED_DIR/${names[$i]}"
    STOPPED+=("${names[$i]}")
  done
}

# --------------------------------------------------------------------------- probes
# `cmd | grep -q` under pipefail gives false negatives (SIGPIPE, pitfall 13), so
# outputs are captured and matched in bash instead.

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

ctld_ok() {
  local out
  out=$(timeout 10 scontrol ping 2>&1) || true
  [[ $out == *"is UP"* ]]
}

db_ok() {
  mariadb-admin --no-defaults --protocol=socket --socket="$DB_SOCK" -uroot \
    --connect-timeout=2 ping >/dev/null 2>&1
}

dbd_ok() { timeout 10 sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }

# Node state as "<base> <flags>", e.g. "idle -", "down *", "drained -".
node_state() {
  local st base flags
  st=$(timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null) || st=''
  st=${st%%$'\n'*}
  base=${st%%[^a-z]*}
  flags=${st#"$base"}
  printf '%s %s\n' "${base:-none}" "${flags:--}"
}

node_usable() {
  local base flags
  read -r base flags < <(node_state)
  [[ $flags != *'*'* ]] || return 1          # '*' = not responding
  case $base in idle | mixed | allocated | completing) return 0 ;; esac
  return 1
}

# A live process named $1 (any owner). pgrep also lists zombies, and here PID 1 does
# not reap orphans (observed: stopped daemons stay <defunct>), so filter them out.
foreign_pid() {
  local pid
  for pid in $(pgrep -x "$1" 2>/dev/null || true); do
    if proc_alive "$pid" "$1"; then printf '%s\n' "$pid"; return 0; fi
  done
  return 0
}

# --------------------------------------------------------------------------- settings

load_settings() {
  NODE=$(hostname -s)
  local ncpu memkb
  ncpu=$(nproc)
  CPUS=${SLURM_LOCAL_CPUS:-$((ncpu > 8 ? ncpu : 8))}
  GPUS=${SLURM_LOCAL_GPUS:-2}
  memkb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  MEM_MB=${SLURM_LOCAL_MEM_MB:-$((memkb * 95 / 100 / 1024))}
  DB_PORT=${SLURM_LOCAL_DB_PORT:-3307}
  TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
  local v
  for v in CPUS GPUS MEM_MB DB_PORT TIMEOUT; do
    is_uint "${!v}" || die "SLURM_LOCAL_${v} must be a non-negative integer, got '${!v}'"
  done
  ((CPUS >= 1)) || die "SLURM_LOCAL_CPUS must be >= 1"
  ((MEM_MB >= 256)) || die "SLURM_LOCAL_MEM_MB must be >= 256"
  ((GPUS <= 64)) || die "SLURM_LOCAL_GPUS must be <= 64"
}

# --------------------------------------------------------------------------- install

# missing_pkgs PKG...: print the ones not fully installed (one dpkg-query for all).
missing_pkgs() {
  local out p
  out=$'\n'$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do
    [[ $out == *$'\n'"$p installed"$'\n'* || $out == *$'\n'"$p installed" ]] || printf '%s\n' "$p"
  done
}

restore_policy_rc() {
  if [[ -f $POLICY_RC ]] && grep -qxF "$POLICY_RC_MARKER" "$POLICY_RC" 2>/dev/null; then
    rm -f "$POLICY_RC"
    if [[ -f $POLICY_RC_SAVED ]]; then mv -f "$POLICY_RC_SAVED" "$POLICY_RC"; fi
  fi
}

on_exit() { restore_policy_rc; }

# Package postinsts would otherwise start the system munge/mariadb/slurmdbd services
# (pitfall 14), which would then fight ours for sockets and ports. A policy-rc.d that
# exits 101 forbids that. An existing one that already denies is left alone; any
# other is moved aside and restored on exit (also by the next run, if we were killed).
install_policy_rc() {
  restore_policy_rc
  if [[ -x $POLICY_RC ]]; then
    local rc=0
    "$POLICY_RC" munge start >/dev/null 2>&1 || rc=$?
    ((rc == 101)) && return 0
    mv -f "$POLICY_RC" "$POLICY_RC_SAVED"
  elif [[ -e $POLICY_RC ]]; then
    mv -f "$POLICY_RC" "$POLICY_RC_SAVED"
  fi
  printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_RC_MARKER" > "$POLICY_RC"
  chmod 0755 "$POLICY_RC"
}

ensure_packages() {
  local want=("${BASE_PKGS[@]}") missing=() p
  ((ACCOUNTING)) && want+=("${ACCT_PKGS[@]}")
  mapfile -t missing < <(missing_pkgs "${want[@]}")
  ((${#missing[@]})) || return 0

  command -v apt-get >/dev/null || die "packages missing (${missing[*]}) and apt-get not found"
  local apt_log=$LOG_DIR/apt.log off
  off=$(file_size "$apt_log")
  say "installing ${missing[*]} (log: $apt_log)"
  install_policy_rc
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
  local have_lists=0
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null && have_lists=1
  # Pitfall 1: another apt-get may hold the dpkg lock, hence Lock::Timeout.
  # `apt-get update` only when needed: it is the slow, network-dependent part.
  if ! ((have_lists)) || ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" \
        </dev/null >>"$apt_log" 2>&1 9>&-; then
    say "running apt-get update"
    "${apt[@]}" update </dev/null >>"$apt_log" 2>&1 9>&- \
      || die "apt-get update failed" "$apt_log" "$off"
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" \
      </dev/null >>"$apt_log" 2>&1 9>&- \
      || die "apt-get install ${missing[*]} failed" "$apt_log" "$off"
  fi
  restore_policy_rc
  mapfile -t missing < <(missing_pkgs "${want[@]}")
  ((${#missing[@]} == 0)) || die "still not installed after apt-get: ${missing[*]}" "$apt_log" "$off"
}

# --------------------------------------------------------------------------- config

CHANGED_SLURM=0   # slurm.conf / gres.conf / cgroup.conf changed -> restart ctld+slurmd
CHANGED_DBD=0     # slurmdbd.conf changed -> restart slurmdbd

# install_file PATH MODE CONTENT: write only when the content differs; returns 0 if it
# changed. Called with the content as an argument (NOT `gen | install_file`), because a
# function at the end of a pipe runs in a subshell and the change flag would be lost
# (pitfall 13).
install_file() {
  local path=$1 mode=$2 content=$3 old=''
  if [[ -f $path ]]; then
    old=$(<"$path")
    if [[ $old == "$content" ]]; then
      chmod "$mode" "$path"
      return 1
    fi
  fi
  local tmp
  tmp=$(mktemp "$path.XXXXXX")
  printf '%s\n' "$content" > "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  return 0
}

gen_slurm_conf() {
  local gres_node=''
  ((GPUS > 0)) && gres_node=" Gres=gpu:$GPUS"
  cat <<EOF
# Written by scripts/local-slurm.sh - local one-node test cluster. Do not edit:
# it is regenerated (and daemons restarted) on every 'local-slurm.sh start'.
ClusterName=$CLUSTER
# Must be \`hostname -s\`: slurmctld refuses to run on a host that is not SlurmctldHost.
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$SPOOL_DIR/ctld
SlurmdSpoolDir=$SPOOL_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Silences "Configured MailProg is invalid".
MailProg=/bin/true
MpiDefault=none
# No cgroups needed (or reliably available) here.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
EOF
  if ((ACCOUNTING)); then
    cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# Only with slurmdbd: without it slurmctld dies with "slurmdbd is required" (pitfall 5).
AccountingStorageTRES=gres/gpu
# (No AccountingStorageEnforce: "none" is invalid in 22.05, pitfall 10.)
EOF
  else
    echo 'AccountingStorageType=accounting_storage/none'
  fi
  cat <<EOF
# Job completion log: makes \`sacct -c\` work even without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Required with CR_*_Memory, or every job without --mem gets the whole node (pitfall 7).
DefMemPerCPU=256
SchedulerType=sched/backfill
# ~1 s per dependency hop instead of ~3 s (pitfall 9).
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
# Finished jobs stay visible in squeue/scontrol for 1 h (an unknown dependency id
# counts as satisfied, so they must not be purged early).
MinJobAge=3600
KillWait=5
InactiveLimit=0
# Lets the node advertise more CPUs than the hardware has (pitfall 8).
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM_MB${gres_node} State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

gen_gres_conf() {
  echo '# Written by scripts/local-slurm.sh. Fake GPUs: symlinks to /dev/null (pitfall 4:'
  echo '# file-less GPUs are dropped, regular files are rejected, char devices work).'
  echo 'AutoDetect=off'
  if ((GPUS == 1)); then
    echo "Name=gpu File=$FAKEGPU_DIR/gpu0"
  elif ((GPUS > 1)); then
    echo "Name=gpu File=$FAKEGPU_DIR/gpu[0-$((GPUS - 1))]"
  fi
}

gen_cgroup_conf() {
  cat <<'EOF'
# Written by scripts/local-slurm.sh. slurmd 22.05 loads a cgroup plugin even with
# proctrack/linuxproc + task/none; do not let it depend on systemd/dbus.
CgroupPlugin=autodetect
IgnoreSystemdOnFailure=yes
EOF
}

gen_slurmdbd_conf() {
  cat <<EOF
# Written by scripts/local-slurm.sh (private MariaDB on 127.0.0.1:$DB_PORT).
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurm
EOF
}

make_dirs() {
  mkdir -p "$OWNED_DIR" "$ETC_DIR" "$SPOOL_DIR/ctld" "$SPOOL_DIR/d" "$LIB_DIR" "$LOG_DIR" "$FAKEGPU_DIR"
  chmod 0755 "$RUN_DIR" "$LOG_DIR"
}

write_configs() {
  local i
  for ((i = 0; i < GPUS; i++)); do
    [[ -L $FAKEGPU_DIR/gpu$i ]] || ln -sfn /dev/null "$FAKEGPU_DIR/gpu$i"
  done
  if install_file "$ETC_DIR/slurm.conf" 0644 "$(gen_slurm_conf)"; then CHANGED_SLURM=1; fi
  if install_file "$ETC_DIR/gres.conf" 0644 "$(gen_gres_conf)"; then CHANGED_SLURM=1; fi
  if install_file "$ETC_DIR/cgroup.conf" 0644 "$(gen_cgroup_conf)"; then CHANGED_SLURM=1; fi
  if ((ACCOUNTING)); then
    # slurmdbd refuses a config readable by others (it holds the DB password).
    if install_file "$ETC_DIR/slurmdbd.conf" 0600 "$(gen_slurmdbd_conf)"; then CHANGED_DBD=1; fi
  fi
  return 0
}

# --------------------------------------------------------------------------- daemons

# Cancel every job and wait (bounded) until none is pending/running/completing, so no
# slurmstepd is left behind when slurmd goes away.
cancel_all_jobs() {
  ctld_ok || return 0
  local ids
  ids=$(squeue -h -o %F 2>/dev/null | sort -n -u) || ids=''
  [[ -n $ids ]] || return 0
  say "cancelling jobs: ${ids//$'\n'/ }"
  # shellcheck disable=SC2086  # ids are plain integers, one per word
  scancel $ids 2>/dev/null || true
  local deadline=$((SECONDS + 20)) left
  while ((SECONDS < deadline)); do
    left=$(squeue -h -o %i 2>/dev/null) || left=''
    [[ -z $left ]] && return 0
    sleep 0.2
  done
  say "warning: jobs still not gone after 20s: ${left//$'\n'/ }"
}

ensure_munged() {
  munge_ok && return 0
  local pid log=/var/log/munge/munged.log off
  if pid=$(owned_pid munged); then
    wait_ready munged "$pid" "$log" 0 "munge credential round trip" munge_ok
    return 0
  fi
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    mungekey --create --keyfile=/etc/munge/munge.key </dev/null >/dev/null 2>&1 9>&- \
      || die "mungekey --create failed"
    chown munge:munge /etc/munge/munge.key
    chmod 0600 /etc/munge/munge.key
  fi
  # Pitfall 2: without systemd-tmpfiles nobody creates /run/munge.
  install -d -o munge -g munge -m 0755 /run/munge
  off=$(file_size "$log")
  say "starting munged"
  # Pitfall 3: as root munged refuses ("Logfile is insecure"), so run it as munge.
  # setpriv (unlike runuser) execs in place, so the recorded pid is munged itself.
  spawn munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F
  wait_ready munged "$SPAWNED_PID" "$log" "$off" "munge credential round trip" munge_ok
}

# Private MariaDB (pitfall 11): --no-defaults, own datadir, own socket, port 3307, so a
# system MySQL/MariaDB on 3306 is neither used nor disturbed.
ensure_mariadb() {
  local pid log=$LOG_DIR/mariadb.log off
  install -d -o mysql -g mysql -m 0755 "$DB_RUN_DIR"
  if ! db_ok; then
    if pid=$(owned_pid mariadbd); then
      wait_ready mariadbd "$pid" "$log" 0 "mariadb ping on $DB_SOCK" db_ok
    else
      if [[ ! -f $DB_INIT_MARKER ]]; then
        say "initialising private MariaDB in $DB_DIR"
        rm -rf "$DB_DIR"
        install -d -o mysql -g mysql -m 0750 "$DB_DIR"
        mariadb-install-db --no-defaults --datadir="$DB_DIR" --user=mysql \
          --auth-root-authentication-method=socket --skip-test-db \
          </dev/null >"$LOG_DIR/mariadb-install.log" 2>&1 9>&- \
          || die "mariadb-install-db failed" "$LOG_DIR/mariadb-install.log"
      fi
      # mariadbd drops to the mysql user before opening its error log.
      touch "$log"; chown mysql:mysql "$log"
      off=$(file_size "$log")
      say "starting private mariadbd on 127.0.0.1:$DB_PORT"
      spawn mariadbd /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB_DIR" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --socket="$DB_SOCK" \
        --pid-file="$DB_RUN_DIR/mariadbd.pid" --log-error="$log" --skip-name-resolve \
        --innodb-lock-wait-timeout=900
      wait_ready mariadbd "$SPAWNED_PID" "$log" "$off" "mariadb ping on $DB_SOCK" db_ok
    fi
  fi
  if [[ ! -f $DB_INIT_MARKER ]]; then
    # With --skip-name-resolve slurmdbd's TCP connection is 'slurm'@'127.0.0.1'.
    mariadb --no-defaults --protocol=socket --socket="$DB_SOCK" -uroot </dev/null \
      >"$LOG_DIR/mariadb-setup.log" 2>&1 9>&- -e "
        CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
        GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
        FLUSH PRIVILEGES;" || die "creating the slurm database/user failed" "$LOG_DIR/mariadb-setup.log"
    touch "$DB_INIT_MARKER"
  fi
}

ensure_slurmdbd() {
  local pid log=$LOG_DIR/slurmdbd.log off
  if ((CHANGED_DBD)); then
    if owned_pid slurmdbd >/dev/null; then
      stop_owned slurmdbd
    elif dbd_ok; then
      die "slurmdbd.conf changed but the running slurmdbd was not started by this script; stop it first"
    fi
  fi
  local clusters
  # One sacctmgr round trip (~0.2 s) both proves slurmdbd is serving and lists clusters.
  if ! clusters=$(timeout 10 sacctmgr -n -P list cluster format=cluster 2>/dev/null); then
    if pid=$(owned_pid slurmdbd); then
      wait_ready slurmdbd "$pid" "$log" 0 "sacctmgr reaching slurmdbd" dbd_ok
    else
      off=$(file_size "$log")
      rm -f "$RUN_DIR/slurmdbd.pid"
      say "starting slurmdbd on 127.0.0.1:$DBD_PORT"
      spawn slurmdbd /usr/sbin/slurmdbd -D
      wait_ready slurmdbd "$SPAWNED_PID" "$log" "$off" "sacctmgr reaching slurmdbd" dbd_ok
    fi
    clusters=$(timeout 10 sacctmgr -n -P list cluster format=cluster 2>/dev/null) || clusters=''
  fi
  if [[ $'\n'$clusters$'\n' != *$'\n'$CLUSTER$'\n'* ]]; then
    say "registering cluster $CLUSTER in slurmdbd"
    timeout 20 sacctmgr -i add cluster "$CLUSTER" </dev/null >/dev/null 2>&1 9>&- \
      || die "sacctmgr add cluster $CLUSTER failed" "$log"
  fi
}

ensure_slurmctld() {
  local pid log=$LOG_DIR/slurmctld.log off
  if pid=$(owned_pid slurmctld); then
    wait_ready slurmctld "$pid" "$log" 0 "scontrol ping" ctld_ok
    return 0
  fi
  if ctld_ok; then
    say "using an already running slurmctld that this script did not start"
    return 0
  fi
  [[ -z $(foreign_pid slurmctld) ]] \
    || die "a slurmctld (pid $(foreign_pid slurmctld)) not started by this script is running but not answering; stop it first" "$log"
  off=$(file_size "$log")
  rm -f "$RUN_DIR/slurmctld.pid"
  say "starting slurmctld"
  spawn slurmctld /usr/sbin/slurmctld -D
  wait_ready slurmctld "$SPAWNED_PID" "$log" "$off" "scontrol ping" ctld_ok
}

SLURMD_LOG_OFF=0
SLURMD_SPAWN_EPOCH=''
ensure_slurmd() {
  local log=$LOG_DIR/slurmd.log
  SLURMD_LOG_OFF=$(file_size "$log")
  owned_pid slurmd >/dev/null && return 0
  if [[ -n $(foreign_pid slurmd) ]]; then
    say "using an already running slurmd that this script did not start"
    return 0
  fi
  rm -f "$RUN_DIR/slurmd.pid"
  say "starting slurmd"
  SLURMD_SPAWN_EPOCH=$EPOCHSECONDS
  spawn slurmd /usr/sbin/slurmd -D
}

# After a restart slurmctld restores the node as "idle" from its saved state before
# the new slurmd has registered (observed: sinfo says idle ~0.1 s after the restart),
# so "idle" alone does not prove that OUR slurmd is in. It is, once slurmd has logged
# "slurmd started on" (printed after its listening socket exists, right before it
# registers) and slurmctld reports a SlurmdStartTime no older than our spawn.
slurmd_registered() {
  [[ -n $SLURMD_SPAWN_EPOCH ]] || return 0
  local since line ts epoch
  since=$(tail -c "+$((SLURMD_LOG_OFF + 1))" "$LOG_DIR/slurmd.log" 2>/dev/null) || since=''
  [[ $since == *"slurmd started on"* ]] || return 1
  line=$(timeout 10 scontrol show node -o "$NODE" 2>/dev/null) || return 1
  [[ $line =~ SlurmdStartTime=([0-9T:-]+) ]] || return 1
  ts=${BASH_REMATCH[1]}
  epoch=$(date -d "${ts/T/ }" +%s 2>/dev/null) || return 1
  ((epoch >= SLURMD_SPAWN_EPOCH))
}

# Wait until the node is usable. A DRAIN/DOWN/INVAL state is kept in StateSaveLocation
# across restarts (pitfall 6), so resume it once slurmd has registered.
wait_node() {
  local deadline=$((SECONDS + TIMEOUT)) last_resume=-100 base flags pid
  pid=$(owned_pid slurmd) || pid=''
  while :; do
    read -r base flags < <(node_state)
    if [[ $flags != *'*'* ]]; then
      case $base in
        idle | mixed | allocated | completing) slurmd_registered && return 0 ;;
        drain* | down | inval | fail* | unknown)
          if [[ $base != unknown ]] && ((SECONDS - last_resume >= 5)); then
            say "node $NODE is $base${flags#-}; resuming it"
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 9>&- || true
            last_resume=$SECONDS
          fi ;;
      esac
    fi
    if [[ -n $pid ]] && ! proc_alive "$pid"; then
      rm -f "$OWNED_DIR/slurmd"
      die "slurmd exited while starting" "$LOG_DIR/slurmd.log" "$SLURMD_LOG_OFF"
    fi
    if ((SECONDS >= deadline)); then
      local why
      why=$(scontrol show node "$NODE" 2>&1 | grep -E 'State=|Reason=' || true)
      die "node $NODE not usable after ${TIMEOUT}s (state: $base${flags#-})
$why" "$LOG_DIR/slurmd.log" "$SLURMD_LOG_OFF" "$LOG_DIR/slurmctld.log" "$CTLD_LOG_OFF"
    fi
    sleep 0.1
  done
}

# --------------------------------------------------------------------------- commands

require_root() {
  (($(id -u) == 0)) || die "must run as root (try: sudo $0 ${ORIG_ARGS[*]})"
}

take_lock() {
  mkdir -p "$OWNED_DIR"
  # Serialises concurrent start/stop (e.g. parallel test workers). fd 9 is closed for
  # every child we start, or a daemon would hold the lock forever.
  exec 9>"$LOCK_FILE"
  flock -w $((TIMEOUT * 5)) 9 || die "could not get $LOCK_FILE (another start/stop running?)"
}

describe() {
  local base flags acct=off
  read -r base flags < <(node_state)
  [[ -f $SLURM_CONF ]] && grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF" && acct=on
  printf 'node=%s state=%s cpus=%s mem_mb=%s gpus=%s partition=%s accounting=%s' \
    "$NODE" "$base" "$CPUS" "$MEM_MB" "$GPUS" "$PARTITION" "$acct"
}

cmd_start() {
  ACCOUNTING=0
  local fresh=0 a
  for a in "$@"; do
    case $a in
      --accounting) ACCOUNTING=1 ;;
      --fresh) fresh=1 ;;
      --quiet) QUIET=1 ;;
      *) printf 'local-slurm: unknown option for start: %s\n' "$a" >&2; usage ;;
    esac
  done
  require_root
  load_settings
  take_lock
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  make_dirs
  ensure_packages

  if ((fresh)); then
    if [[ -z $(owned_pid slurmctld) ]] && ctld_ok; then
      die "--fresh: the running slurmctld was not started by this script; refusing to wipe its state"
    fi
    cancel_all_jobs
    stop_owned slurmd slurmctld
    stop_owned slurmdbd
    stop_owned mariadbd
    [[ -z $(foreign_pid slurmctld) && -z $(foreign_pid slurmd) ]] \
      || die "--fresh: slurmctld/slurmd processes not started by this script are running"
    say "wiping slurm state, job completion log and private accounting DB"
    rm -rf "$SPOOL_DIR" "$DB_DIR"
    rm -f "$LOG_DIR/jobcomp.log"
    make_dirs
  fi

  write_configs
  if ((CHANGED_SLURM)); then
    # Restart only what we own; a foreign daemon with a stale config is an error.
    if [[ -z $(owned_pid slurmctld) ]] && ctld_ok; then
      die "slurm config changed but the running slurmctld was not started by this script; stop it first"
    fi
    if [[ -z $(owned_pid slurmd) && -n $(foreign_pid slurmd) ]]; then
      die "slurm config changed but the running slurmd (pid $(foreign_pid slurmd)) was not started by this script; stop it first"
    fi
    if [[ -n $(owned_pid slurmctld) || -n $(owned_pid slurmd) ]]; then
      say "slurm config changed; restarting slurmctld and slurmd"
    fi
    stop_owned slurmd slurmctld
  fi

  ensure_munged
  if ((ACCOUNTING)); then
    ensure_mariadb
    ensure_slurmdbd
  fi
  CTLD_LOG_OFF=$(file_size "$LOG_DIR/slurmctld.log")
  ensure_slurmctld
  ensure_slurmd
  if ! ((ACCOUNTING)); then
    # Switching back from --accounting: our slurmdbd/mariadbd are no longer used.
    stop_owned slurmdbd
    stop_owned mariadbd
  fi
  wait_node

  local actions=no-op
  ((${#STOPPED[@]})) && actions="stopped:$(IFS=,; echo "${STOPPED[*]}")"
  if ((${#STARTED[@]})); then
    [[ $actions == no-op ]] && actions='' || actions+=' '
    actions+="started:$(IFS=,; echo "${STARTED[*]}")"
  fi
  printf 'local slurm ready: %s actions=%s elapsed=%s\n' "$(describe)" "$actions" "$(elapsed)"
}

cmd_stop() {
  local keep=0 a
  for a in "$@"; do
    case $a in
      --keep-jobs) keep=1 ;;
      --quiet) QUIET=1 ;;
      *) printf 'local-slurm: unknown option for stop: %s\n' "$a" >&2; usage ;;
    esac
  done
  require_root
  TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
  is_uint "$TIMEOUT" || TIMEOUT=60
  take_lock
  # Only cancel jobs on a controller we own: never empty someone else's cluster.
  if ((!keep)) && owned_pid slurmctld >/dev/null; then cancel_all_jobs; fi
  # Order: slurm daemons first (slurmctld may still talk to slurmdbd while shutting
  # down), then slurmdbd, then its database, munged last (everyone authenticates via it).
  stop_owned slurmd slurmctld
  stop_owned slurmdbd
  stop_owned mariadbd munged
  local left=() n
  for n in munged mariadbd slurmdbd slurmctld slurmd; do
    [[ -n $(foreign_pid "$n") ]] && left+=("$n")
  done
  local msg="stopped ${STOPPED[*]:-nothing (no daemons recorded as ours)}"
  ((${#left[@]})) && msg+="; left alone (not ours): ${left[*]}"
  printf 'local slurm stopped: %s elapsed=%s\n' "$msg" "$(elapsed)"
}

cmd_status() {
  (($# == 0)) || usage
  if ! command -v scontrol >/dev/null || ! command -v sinfo >/dev/null; then
    echo "local slurm down: slurm-client is not installed"; exit 1
  fi
  [[ -f $SLURM_CONF ]] || { echo "local slurm down: $SLURM_CONF does not exist"; exit 1; }
  NODE=$(hostname -s)
  if ! ctld_ok; then echo "local slurm down: slurmctld is not answering (scontrol ping)"; exit 1; fi
  # slurmctld notices a dead slurmd only after SlurmdTimeout (minutes) and keeps
  # reporting the node idle meanwhile, so look for the process itself.
  if [[ -z $(foreign_pid slurmd) ]]; then echo "local slurm down: slurmd is not running"; exit 1; fi
  if ! node_usable; then
    local base flags
    read -r base flags < <(node_state)
    echo "local slurm down: node $NODE is not usable (state: $base${flags#-})"; exit 1
  fi
  local owned=() n
  for n in munged mariadbd slurmdbd slurmctld slurmd; do
    owned_pid "$n" >/dev/null 2>&1 && owned+=("$n")
  done
  local cpus gres mem base flags acct=off
  read -r base flags < <(node_state)
  cpus=$(sinfo -h -n "$NODE" -o %c 2>/dev/null) || cpus='?'
  mem=$(sinfo -h -n "$NODE" -o %m 2>/dev/null) || mem='?'
  gres=$(sinfo -h -n "$NODE" -o %G 2>/dev/null) || gres='?'
  grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF" && acct=on
  printf 'local slurm up: node=%s state=%s cpus=%s mem_mb=%s gres=%s accounting=%s owned=%s\n' \
    "$NODE" "$base" "${cpus%%$'\n'*}" "${mem%%$'\n'*}" "${gres%%$'\n'*}" "$acct" \
    "$(IFS=,; echo "${owned[*]:-none}")"
}

cmd_can_run() {
  (($# == 0)) || usage
  if (($(id -u) != 0)); then
    echo "local slurm cannot run: needs root (uid is $(id -u))"; exit 1
  fi
  local id='' pretty=''
  if [[ -r /etc/os-release ]]; then
    id=$(. /etc/os-release && echo "${ID:-}")
    pretty=$(. /etc/os-release && echo "${PRETTY_NAME:-}")
  fi
  if [[ $id != debian ]]; then
    echo "local slurm cannot run: not Debian (os-release ID='${id:-unknown}'; needs Debian bookworm's slurm 22.05 packages)"
    exit 1
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "local slurm cannot run: apt-get/dpkg-query not found"; exit 1
  fi
  echo "local slurm can run: root on ${pretty:-Debian}"
}

main() {
  ORIG_ARGS=("$@")
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    can-run) cmd_can_run "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
