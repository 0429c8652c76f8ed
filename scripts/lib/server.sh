#!/usr/bin/env bash
# server.sh start|stop NAME...: starts or stops single local servers (rabbitmq, mongo,
# mariadb, mailbox) with the code ./scripts/up uses. With MP3_STATE_DIR and the MP3_*_PORT
# variables of infra.sh (and MP3_RABBITMQ_NODE) it runs a private set next to the usual
# one: the end-to-end tests stop and restart such servers to prove the services survive it.
# Installs nothing: ./scripts/test and ./scripts/up have done that.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/lib/infra.sh"

action=${1:-}
shift || true
[ "$#" -gt 0 ] || die "usage: server.sh start|stop NAME..."
for name in "$@"; do
  case "$name" in
    rabbitmq | mongo | mariadb | mailbox) ;;
    *) die "unknown server: $name" ;;
  esac
  case "$action" in
    start) "start_$name" ;;
    stop) "stop_$name" ;;
    *) die "usage: server.sh start|stop NAME..." ;;
  esac
done
