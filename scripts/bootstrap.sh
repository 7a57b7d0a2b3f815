#!/usr/bin/env bash
# Controller bootstrap, step 1: a virtualenv with the pinned Python dependencies.
# Everything after this (collections, Docker engine, test tools) is done by Ansible itself.
# Usage: scripts/bootstrap.sh venv [DIR]
set -euo pipefail

die() { echo "bootstrap: $*" >&2; exit 1; }

need_apt() {
  # Installs Debian/Ubuntu packages; only possible as root or with passwordless sudo.
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die "missing $* and not root (no passwordless sudo): install them by hand"
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null || die "missing $* and no apt-get: install them by hand"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

make_venv() {
  local dir="$1"
  command -v python3 >/dev/null || die "python3 is required"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python >= 3.11 is required (found $(python3 -V))"
  if [ ! -x "$dir/bin/python" ]; then
    if ! python3 -m venv "$dir" 2>/dev/null; then
      rm -rf "$dir"
      need_apt python3-venv
      python3 -m venv "$dir"
    fi
  fi
  "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null
  echo "bootstrap: installing Python dependencies into $dir"
  "$dir/bin/python" -m pip install -q -r requirements.txt
}

case "${1:-}" in
  venv) make_venv "${2:-.venv}" ;;
  *) die "usage: $0 venv [DIR]" ;;
esac
