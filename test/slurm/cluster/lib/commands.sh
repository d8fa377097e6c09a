# local-slurm.sh: commands (sourced).
# --------------------------------------------------------------------------- commands

require_root() {
  (($(id -u) == 0)) || die "must run as root (try: sudo $SELF ${ORIG_ARGS[*]})"
}

take_lock() {
  mkdir -p "$OWNED_DIR"
  # Serialises concurrent start/stop (e.g. parallel test workers). fd 9 is closed for
  # every child we start, or a daemon would hold the lock forever.
  exec 9>"$LOCK_FILE"
  flock -w $((TIMEOUT * 5)) 9 || die "could not get $LOCK_FILE (another start/stop running?)"
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

