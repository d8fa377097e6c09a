# local-slurm.sh: daemons (sourced).
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

