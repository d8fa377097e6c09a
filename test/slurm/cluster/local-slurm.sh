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

# The parts, each a set of functions (nothing runs when they are sourced):
#   lib/helpers.sh  logging, process records, spawning and stopping daemons
#   lib/status.sh   probes (is munge/slurmctld/the node usable), describe, status
#   lib/install.sh  settings from the environment, apt packages
#   lib/config.sh   slurm.conf, gres.conf, cgroup.conf, slurmdbd.conf
#   lib/daemons.sh  munged, mariadbd, slurmdbd, slurmctld, slurmd
#   lib/commands.sh start, stop, can-run
SELF=$(readlink -f "${BASH_SOURCE[0]}")
LIB=$(dirname "$SELF")/lib
for part in helpers status install config daemons commands; do
  # shellcheck source=/dev/null
  source "$LIB/$part.sh"
done

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
