# local-slurm.sh: probes and the status summary (sourced).
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

describe() {
  local base flags acct=off
  read -r base flags < <(node_state)
  [[ -f $SLURM_CONF ]] && grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF" && acct=on
  printf 'node=%s state=%s cpus=%s mem_mb=%s gpus=%s partition=%s accounting=%s' \
    "$NODE" "$base" "$CPUS" "$MEM_MB" "$GPUS" "$PARTITION" "$acct"
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

