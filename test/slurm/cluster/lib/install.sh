# local-slurm.sh: settings and packages (sourced).
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

