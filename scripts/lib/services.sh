# Starts and stops the project's own services as background processes.
# Sourced after common.sh and infra.sh.
# shellcheck shell=bash

# Every service, workers included, answers /healthz and /readyz on a port
# (given to it as PORT); a service missing here cannot be started, because
# nothing could then tell whether it came up.
service_port() {
  case "$1" in
    gateway) echo "${GATEWAY_PORT:-8080}" ;;
    auth) echo "${AUTH_PORT:-5000}" ;;
    converter) echo "${CONVERTER_PORT:-8081}" ;;
    notification) echo "${NOTIFICATION_PORT:-8082}" ;;
    *) return 1 ;;
  esac
}

# known_port NAME: the port of NAME, or dies naming the service.
# Node options of a service, as its Kubernetes manifest sets them (NODE_OPTIONS).
service_node_options() {
  case "$1" in
    # A small young generation: the garbage of streamed uploads is collected
    # early, which keeps the gateway's memory flat (benchmarks and the upload
    # memory test measure it).
    gateway) echo "--max-semi-space-size=2" ;;
    # A set heap limit (V8's default here is about 4 GiB) makes V8 collect the
    # external memory of the video it reads from GridFS sooner (measured when
    # it copied a 200 MiB video to disk: peak memory rose by about 25 MiB
    # instead of 60 to 110). The converter uses under 30 MiB of heap.
    converter) echo "--max-old-space-size=256" ;;
    *) echo "" ;;
  esac
}

known_port() {
  service_port "$1" ||
    die "$1: no readiness port known; add one to service_port in scripts/lib/services.sh"
}

list_services() {
  local dir
  for dir in "$ROOT"/services/*/; do
    [ -f "$dir/src/main.ts" ] && basename "$dir"
  done
}

service_ready() { curl -fsS -m 2 "http://127.0.0.1:$1/readyz"; }

# The services this shell launched: one that exits during start-up is then an error, while
# one left by an earlier run that exits (it was stopping) is started again.
declare -gA LAUNCHED_SERVICES=()

start_service() {
  local name=$1 port
  port=$(known_port "$name") || exit 1
  local pidfile="$STATE_DIR/run/svc-$name.pid"
  if pid_alive "$pidfile"; then return 0; fi # wait_service waits for it, or starts it again
  rm -f "$pidfile"
  if port_open "$port"; then
    die "$name: port $port is already in use by another process"
  fi
  say "starting $name on 127.0.0.1:$port"
  # NODE_ENV=development gives each service its local defaults (loopback
  # hosts, development credentials); only the other services' ports, which
  # these scripts may have moved, are passed on.
  (cd "$ROOT/services/$name" && launch "svc-$name" "$STATE_DIR/log/$name.log" \
    env NODE_ENV=development LOG_LEVEL="${LOG_LEVEL:-info}" PORT="$port" \
    AUTH_URL="http://127.0.0.1:$(service_port auth)" NODE_OPTIONS="$(service_node_options "$name")" \
    PUBLIC_BASE_URL="http://127.0.0.1:$(service_port gateway)" \
    node src/main.ts)
  LAUNCHED_SERVICES[$name]=1
}

wait_service() {
  local name=$1 port
  port=$(known_port "$name") || exit 1
  local pidfile="$STATE_DIR/run/svc-$name.pid"
  if [ -z "${LAUNCHED_SERVICES[$name]:-}" ]; then
    # Started by an earlier run: running, or still stopping (SIGTERM'd, or killed and not
    # yet reaped). Wait until it answers, or for it to go and start a new one.
    if settle "$name" "$pidfile" 60 service_ready "$port"; then
      say "$name is ready"
      return 0
    fi
    start_service "$name"
  fi
  local deadline=$((SECONDS + 60))
  until service_ready "$port" >/dev/null 2>&1; do
    if ! pid_alive "$pidfile"; then
      tail -n 20 "$STATE_DIR/log/$name.log" >&2
      die "$name exited during start-up (log: $STATE_DIR/log/$name.log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name is not ready after 60s (log: $STATE_DIR/log/$name.log)"
    sleep 0.3
  done
  say "$name is ready"
}

start_services() {
  local name
  for name in $(list_services); do start_service "$name"; done
  for name in $(list_services); do wait_service "$name"; done
}

stop_services() {
  local pidfile
  for pidfile in "$STATE_DIR"/run/svc-*.pid; do
    [ -e "$pidfile" ] || continue
    local name=${pidfile##*/svc-}
    stop_pid "${name%.pid}" "$pidfile"
  done
}
