# local-slurm.sh: configuration files (sourced).
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
# Written by test/slurm/cluster/local-slurm.sh - local one-node test cluster. Do not edit:
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
# Memory is enforced only by the accounting sampler here (no cgroups): kill a job over its
# --mem, sampled every 2 s, so out-of-memory verdicts can be tested.
JobAcctGatherFrequency=task=2
JobAcctGatherParams=OverMemoryKill
EOF
  if ((ACCOUNTING)); then
    cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# Only with slurmdbd: without it slurmctld dies with "slurmdbd is required" (pitfall 5).
AccountingStorageTRES=gres/gpu
# sacct shows the job comment (ckbuild puts the run key and runs-root identity there).
AccountingStoreFlags=job_comment
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
# Those kept records count toward MaxJobCount (default 10,000): one suite leaves ~2,200 (its
# 2,100-run grid), so a machine running it a few times an hour filled the table and sbatch
# hung in "temporarily unable to accept job". Room for dozens of runs an hour.
MaxJobCount=100000
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
  echo '# Written by test/slurm/cluster/local-slurm.sh. Fake GPUs: symlinks to /dev/null (pitfall 4:'
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
# Written by test/slurm/cluster/local-slurm.sh. slurmd 22.05 loads a cgroup plugin even with
# proctrack/linuxproc + task/none; do not let it depend on systemd/dbus.
CgroupPlugin=autodetect
IgnoreSystemdOnFailure=yes
EOF
}

gen_slurmdbd_conf() {
  cat <<EOF
# Written by test/slurm/cluster/local-slurm.sh (private MariaDB on 127.0.0.1:$DB_PORT).
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

