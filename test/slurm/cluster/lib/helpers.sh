# local-slurm.sh: helpers (sourced).
# --------------------------------------------------------------------------- helpers

usage() {
  sed -n '/^# Usage:/,/^# one such cluster/{s/^# \{0,1\}//;p}' "$SELF" >&2
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

