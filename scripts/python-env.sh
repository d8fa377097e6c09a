#!/usr/bin/env bash
# python-env.sh - the isolated, pinned Python environment of ckbuild's real tier
# (torchtune fine-tunes, inspect-ai evals, PEFT) on a CPU machine.
#
# Usage:
#   python-env.sh install   Create or complete the venv, print its path and the versions of the key
#                           packages. Cached: with the completion stamp present it does nothing
#                           (about a second) and says "cached".
#   python-env.sh path      Print the venv's directory and exit 0 if it is complete; otherwise print
#                           a one-line reason on stderr and exit 1. Never installs anything.
#
# Where: ${CKBUILD_PYTHON_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ckbuild/python-<hash>}, where <hash> is
# a short sha256 of scripts/python-requirements.txt, the torch pin and the interpreter's version, so a
# changed requirements file or Python gets a new env beside the old one.
# Interpreter: ${CKBUILD_PYTHON:-python3}.
#
# Order matters: torch==2.13.0 is installed first in its own pip call (a CPU build; any package that
# pulls an unpinned torch before it is present would download a multi-GB CUDA build), then the
# requirements with a constraints file holding torch at that version, so pip can never replace it.
# The stamp (.ckbuild-complete, holding the hash) is written only after every step succeeded, so an
# interrupted install is redone by the next `install`. Concurrent installs of one env are serialised
# with flock (bounded wait); every pip call runs under a timeout and never prompts.
set -euo pipefail

TORCH_PIN="torch==2.13.0"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQUIREMENTS="${SCRIPT_DIR}/python-requirements.txt"
PYTHON="${CKBUILD_PYTHON:-python3}"
STAMP_NAME=".ckbuild-complete"
PIP_TIMEOUT_S="${CKBUILD_PIP_TIMEOUT_S:-1800}"
LOCK_WAIT_S="${CKBUILD_PYTHON_ENV_LOCK_WAIT_S:-1800}"
KEY_PACKAGES=(torch torchao torchtune torchdata transformers peft accelerate datasets inspect_ai tokenizers tiktoken safetensors omegaconf)

die() {
  printf 'python-env: %s\n' "$*" >&2
  exit 1
}

usage() {
  printf 'usage: %s install|path\n' "$(basename "$0")" >&2
  exit 2
}

# The env's identity: requirements + torch pin + interpreter version. Sets ENV_HASH and ENV_DIR.
compute_env() {
  [[ -f "$REQUIREMENTS" ]] || die "requirements file not found: $REQUIREMENTS"
  command -v "$PYTHON" > /dev/null 2>&1 || die "python interpreter not found: $PYTHON (set CKBUILD_PYTHON)"
  local pyver
  pyver="$("$PYTHON" -c 'import platform, sys; print(platform.python_implementation(), ".".join(map(str, sys.version_info[:3])), platform.machine())' 2> /dev/null)" \
    || die "cannot run $PYTHON"
  ENV_HASH="$({ cat "$REQUIREMENTS"; printf '%s\n%s\n' "$TORCH_PIN" "$pyver"; } | sha256sum | cut -c1-12)"
  PYVER="$pyver"
  if [[ -n "${CKBUILD_PYTHON_ENV:-}" ]]; then
    ENV_DIR="$CKBUILD_PYTHON_ENV"
  else
    ENV_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/ckbuild/python-${ENV_HASH}"
  fi
}

# Prints nothing and returns 0 if the env is complete; else prints the reason and returns 1.
check_complete() {
  if [[ ! -d "$ENV_DIR" ]]; then
    echo "no environment at $ENV_DIR (run: bash scripts/python-env.sh install)"
    return 1
  fi
  if [[ ! -f "$ENV_DIR/$STAMP_NAME" ]]; then
    echo "environment at $ENV_DIR is incomplete (no completion stamp; run: bash scripts/python-env.sh install)"
    return 1
  fi
  local stamped
  stamped="$(head -n 1 "$ENV_DIR/$STAMP_NAME" 2> /dev/null || true)"
  if [[ "$stamped" != "$ENV_HASH" ]]; then
    echo "environment at $ENV_DIR was built for other requirements (stamp ${stamped:-empty}, want $ENV_HASH; run: bash scripts/python-env.sh install)"
    return 1
  fi
  if [[ ! -x "$ENV_DIR/bin/python" ]]; then
    echo "environment at $ENV_DIR has no bin/python"
    return 1
  fi
  return 0
}

print_versions() {
  "$ENV_DIR/bin/python" - "${KEY_PACKAGES[@]}" << 'PY'
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        print(f"  {name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"  {name}: not installed")
PY
}

with_timeout() {
  if command -v timeout > /dev/null 2>&1; then
    timeout --kill-after=30 "$PIP_TIMEOUT_S" "$@"
  else
    "$@"
  fi
}

pip_install() {
  PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    with_timeout "$ENV_DIR/bin/python" -m pip install --no-input --progress-bar off "$@"
}

do_install() {
  if reason="$(check_complete)"; then
    echo "python-env: cached: $ENV_DIR"
    print_versions
    return 0
  fi
  echo "python-env: building: $reason" >&2
  local start=$SECONDS
  mkdir -p "$(dirname "$ENV_DIR")"

  # One installer at a time per env; a second waits (bounded) and then finds the stamp.
  local lock="${ENV_DIR%/}.lock"
  if command -v flock > /dev/null 2>&1; then
    exec 9> "$lock"
    flock -w "$LOCK_WAIT_S" 9 || die "timed out after ${LOCK_WAIT_S}s waiting for $lock (another install running?)"
    if check_complete > /dev/null; then
      echo "python-env: cached (built by a concurrent install): $ENV_DIR"
      print_versions
      return 0
    fi
  fi

  rm -f "$ENV_DIR/$STAMP_NAME"
  if [[ -d "$ENV_DIR" ]] && ! { [[ -f "$ENV_DIR/pyvenv.cfg" ]] && "$ENV_DIR/bin/python" -c '' > /dev/null 2>&1; }; then
    # Not a usable venv. Only remove what looks like ours: a venv, or an empty directory.
    if [[ -f "$ENV_DIR/pyvenv.cfg" ]] || [[ -z "$(ls -A "$ENV_DIR")" ]]; then
      rm -rf -- "$ENV_DIR"
    else
      die "$ENV_DIR exists and is not a Python venv; refusing to touch it"
    fi
  fi
  if [[ ! -d "$ENV_DIR" ]]; then
    echo "python-env: creating venv ($PYVER) at $ENV_DIR" >&2
    "$PYTHON" -m venv "$ENV_DIR" || die "python -m venv failed for $ENV_DIR"
  fi

  local constraints="$ENV_DIR/ckbuild-constraints.txt"
  printf '%s\n' "$TORCH_PIN" > "$constraints"

  echo "python-env: installing $TORCH_PIN" >&2
  pip_install "$TORCH_PIN" || die "pip install $TORCH_PIN failed"
  echo "python-env: installing $REQUIREMENTS" >&2
  pip_install -c "$constraints" -r "$REQUIREMENTS" || die "pip install -r $REQUIREMENTS failed"

  # Sanity: torch must still be the pinned CPU build, and the stack must import.
  "$ENV_DIR/bin/python" - "$TORCH_PIN" << 'PY' || die "import check failed in $ENV_DIR"
import sys
from importlib import metadata
want = sys.argv[1].split("==", 1)[1]
got = metadata.version("torch")
if got.split("+", 1)[0] != want:
    sys.exit(f"torch is {got}, expected {want}")
import torchtune.training, torchao, transformers, peft, inspect_ai  # noqa: F401
PY

  printf '%s\n%s\n' "$ENV_HASH" "$PYVER" > "$ENV_DIR/$STAMP_NAME.tmp"
  mv -f "$ENV_DIR/$STAMP_NAME.tmp" "$ENV_DIR/$STAMP_NAME"
  echo "python-env: installed in $((SECONDS - start))s: $ENV_DIR"
  print_versions
}

[[ $# -eq 1 ]] || usage
case "$1" in
  install)
    compute_env
    do_install
    ;;
  path)
    compute_env
    if reason="$(check_complete)"; then
      printf '%s\n' "$ENV_DIR"
    else
      printf 'python-env: %s\n' "$reason" >&2
      exit 1
    fi
    ;;
  *) usage ;;
esac
