# Installs, starts and stops the servers the services need, all on loopback.
# Sourced after common.sh. Each server is owned through a pid file under
# $STATE_DIR/run: only a server started here is ever stopped here.
#
# The start_* functions must be called plainly, never as `if start_x` or
# `start_x || ...`: bash switches `set -e` off inside a function called in a
# condition, and a failed GRANT or launch would then pass unnoticed. Each one
# adds its name to STARTED_INFRA as soon as it has launched its server, so
# that a caller's EXIT trap stops it even if it then fails to become ready.
# shellcheck shell=bash

# The ports can be moved (MP3_*_PORT) to run a second, private set of servers
# next to these, as the end-to-end tests do through scripts/lib/server.sh.
RABBITMQ_PORT=${MP3_RABBITMQ_PORT:-5672}
RABBITMQ_MANAGEMENT_PORT=${MP3_RABBITMQ_MANAGEMENT_PORT:-15672}
# Erlang distribution (rabbitmqctl talks to the node through it); RabbitMQ's default is the AMQP port + 20000.
RABBITMQ_DIST_PORT=${MP3_RABBITMQ_DIST_PORT:-25672}
MARIADB_PORT=${MP3_MARIADB_PORT:-3306}
MONGO_PORT=${MP3_MONGO_PORT:-27017}
SMTP_PORT=${MP3_SMTP_PORT:-1025}
MAILBOX_PORT=${MP3_MAILBOX_PORT:-1080}

# Development credentials for the local servers (loopback only, never used in Kubernetes).
DEV_MYSQL_USER=mp3converter
DEV_MYSQL_PASSWORD=mp3converter-dev

RABBITMQ_HOME="$STATE_DIR/rabbitmq"
RABBITMQ_NODE="${MP3_RABBITMQ_NODE:-mp3converter@localhost}"
MARIADB_DATA="$STATE_DIR/mariadb"
MARIADB_SOCKET="$STATE_DIR/run/mariadb.sock"

# process_alive PID: the process runs. A zombie (killed, its parent has not reaped it
# yet, as this sandbox's init is slow to do and a parent that never waits never does) is
# gone: kill -0 would still find it.
process_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}
# pid_alive PIDFILE: the process recorded in PIDFILE runs.
pid_alive() { [ -f "$1" ] && process_alive "$(cat "$1")"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "$name did not become ready within ${seconds}s (logs: $STATE_DIR/log/)"
    fi
    sleep 0.5
  done
}

# settle NAME PIDFILE SECONDS READY...: for a server or service that PIDFILE says was started
# before, waits until READY succeeds (returns 0: it runs) or its process is gone (returns 1,
# with the pid file removed: start a new one). One still starting is waited for, and so is one
# still stopping (SIGTERM'd, or killed and not yet reaped), instead of being taken for a
# running one. Dies if neither happens within SECONDS.
settle() {
  local name=$1 pidfile=$2 seconds=$3
  shift 3
  [ -f "$pidfile" ] || return 1
  local pid deadline=$((SECONDS + seconds)) said=0
  pid=$(cat "$pidfile")
  until "$@" >/dev/null 2>&1; do
    if ! process_alive "$pid"; then
      if [ "$said" -eq 1 ]; then say "$name (pid $pid) has exited; starting a new one"; fi
      rm -f "$pidfile"
      return 1
    fi
    if [ "$said" -eq 0 ]; then
      say "$name (pid $pid) is running but not ready; waiting for it to answer or exit"
      said=1
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      die "$name (pid $pid) neither answers nor exits after ${seconds}s (logs: $STATE_DIR/log/)"
    sleep 0.3
  done
}

# stop_pid NAME PIDFILE: TERM, then KILL after 20 s; removes the pid file.
stop_pid() {
  local name=$1 pidfile=$2
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while process_alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

# Servers launched by this shell, for its EXIT trap (see the top of this file).
STARTED_INFRA=()

# launch NAME LOGFILE COMMAND...: starts COMMAND in its own session, records its pid.
launch() {
  local name=$1 logfile=$2
  shift 2
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$STATE_DIR/run/$name.pid"
}

# ---------------------------------------------------------------- RabbitMQ
rabbitmqctl_local() {
  HOME="$RABBITMQ_HOME" RABBITMQ_NODENAME="$RABBITMQ_NODE" /usr/lib/rabbitmq/bin/rabbitmqctl "$@"
}

rabbitmq_ready() {
  port_open "$RABBITMQ_PORT" &&
    curl -fsS -m 2 -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/overview"
}

start_rabbitmq() {
  # A stopping broker closes its AMQP port at once and exits seconds later.
  if settle RabbitMQ "$STATE_DIR/run/rabbitmq.pid" 90 rabbitmq_ready; then return 0; fi
  if port_open "$RABBITMQ_PORT"; then
    say "RabbitMQ: port $RABBITMQ_PORT is already served by a broker these scripts did not start; using it"
    return 0
  fi
  mkdir -p "$RABBITMQ_HOME"
  cat >"$RABBITMQ_HOME/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
log.console = false
log.file.level = warning
CONF
  # Shovel: the UI's "Move messages" on a queue page, how dead letters are replayed.
  echo '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' >"$RABBITMQ_HOME/enabled_plugins"
  say "starting RabbitMQ on 127.0.0.1:$RABBITMQ_PORT (management UI on :$RABBITMQ_MANAGEMENT_PORT)"
  local epmd_was_running=0
  if pgrep -x epmd >/dev/null; then epmd_was_running=1; fi
  launch rabbitmq "$STATE_DIR/log/rabbitmq.log" env \
    HOME="$RABBITMQ_HOME" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_NODENAME="$RABBITMQ_NODE" \
    RABBITMQ_DIST_PORT="$RABBITMQ_DIST_PORT" \
    RABBITMQ_CONFIG_FILE="$RABBITMQ_HOME/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RABBITMQ_HOME/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$RABBITMQ_HOME/mnesia" \
    RABBITMQ_LOG_BASE="$STATE_DIR/log" \
    RABBITMQ_PID_FILE="$STATE_DIR/run/rabbitmq.beam.pid" \
    /usr/lib/rabbitmq/bin/rabbitmq-server
  STARTED_INFRA+=(rabbitmq)
  if [ "$epmd_was_running" -eq 0 ]; then touch "$STATE_DIR/run/epmd.ours"; fi
  wait_for RabbitMQ 90 rabbitmqctl_local -q await_startup
  wait_for "RabbitMQ management" 30 curl -fsS -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/overview"
}

stop_rabbitmq() {
  if pid_alive "$STATE_DIR/run/rabbitmq.pid"; then
    say "stopping RabbitMQ"
    rabbitmqctl_local -q shutdown >/dev/null 2>&1 || true
    stop_pid RabbitMQ "$STATE_DIR/run/rabbitmq.pid"
  fi
  rm -f "$STATE_DIR/run/rabbitmq.pid" "$STATE_DIR/run/rabbitmq.beam.pid"
  if [ -f "$STATE_DIR/run/epmd.ours" ]; then
    epmd -kill >/dev/null 2>&1 || true
    rm -f "$STATE_DIR/run/epmd.ours"
  fi
}

# ---------------------------------------------------------------- MariaDB
mariadb_root() { mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot "$@"; }
mariadb_app_ping() {
  mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" \
    -u"$DEV_MYSQL_USER" -p"$DEV_MYSQL_PASSWORD" -e 'SELECT 1'
}

start_mariadb() {
  if settle MariaDB "$STATE_DIR/run/mariadb.pid" 60 mariadb_root -e 'SELECT 1'; then return 0; fi
  if port_open "$MARIADB_PORT"; then
    mariadb_app_ping >/dev/null 2>&1 ||
      die "port $MARIADB_PORT is taken by a server that does not accept $DEV_MYSQL_USER; stop it or create that user"
    say "MariaDB: port $MARIADB_PORT is already served by a server these scripts did not start; using it"
    return 0
  fi
  if [ ! -d "$MARIADB_DATA/mysql" ]; then
    say "initialising a MariaDB data directory"
    mkdir -p "$MARIADB_DATA"
    quietly mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MARIADB_DATA" \
      --auth-root-authentication-method=socket --skip-test-db
  fi
  say "starting MariaDB on 127.0.0.1:$MARIADB_PORT"
  launch mariadb "$STATE_DIR/log/mariadb.log" mariadbd --no-defaults \
    --user="$(id -un)" --datadir="$MARIADB_DATA" --socket="$MARIADB_SOCKET" \
    --bind-address=127.0.0.1 --port="$MARIADB_PORT" \
    --pid-file="$STATE_DIR/run/mariadb.server.pid" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=128M --max-connections=500
  STARTED_INFRA+=(mariadb)
  wait_for MariaDB 60 mariadb_root -e 'SELECT 1'
  # The development user may create the databases it uses (one per test run).
  mariadb_root <<SQL || die "MariaDB: could not create the development user and database (log: $STATE_DIR/log/mariadb.log)"
CREATE USER IF NOT EXISTS '$DEV_MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$DEV_MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS '$DEV_MYSQL_USER'@'localhost' IDENTIFIED BY '$DEV_MYSQL_PASSWORD';
GRANT ALL PRIVILEGES ON \`mp3converter\`.* TO '$DEV_MYSQL_USER'@'127.0.0.1', '$DEV_MYSQL_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`mp3test\\_%\`.* TO '$DEV_MYSQL_USER'@'127.0.0.1', '$DEV_MYSQL_USER'@'localhost';
CREATE DATABASE IF NOT EXISTS \`mp3converter\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
}

stop_mariadb() { stop_pid MariaDB "$STATE_DIR/run/mariadb.pid"; }

# ---------------------------------------------------------------- SecantusDB (MongoDB wire protocol)
# install_venv DIR PACKAGE==VERSION COMMAND WHAT: a virtualenv at DIR with one PyPI package,
# unless its COMMAND is there already.
install_venv() {
  local dir=$1 package=$2 command=$3 what=$4
  [ -x "$dir/bin/$command" ] && return 0
  say "installing $what"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -m venv "$dir" >/dev/null 2>&1 || { apt_install python3-venv && python3 -m venv "$dir"; }
  quietly "$dir/bin/pip" install -q --disable-pip-version-check "$package"
}

install_mongo() {
  install_venv "$SECANTUS_VENV" "secantusdb==$SECANTUSDB_VERSION" secantusd-py \
    "SecantusDB $SECANTUSDB_VERSION (MongoDB-compatible server, from PyPI)"
}

mongo_ping() {
  "$SECANTUS_VENV/bin/python" -c "
import pymongo, sys
c = pymongo.MongoClient('mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true', serverSelectionTimeoutMS=1000)
c.admin.command('ping')"
}

start_mongo() {
  if settle SecantusDB "$STATE_DIR/run/mongo.pid" 60 mongo_ping; then return 0; fi
  if port_open "$MONGO_PORT"; then
    say "MongoDB: port $MONGO_PORT is already served by a server these scripts did not start; using it"
    return 0
  fi
  say "starting SecantusDB on 127.0.0.1:$MONGO_PORT"
  mkdir -p "$STATE_DIR/secantusdb"
  # --standalone: answer like a standalone mongod, as the Kubernetes manifests deploy.
  launch mongo "$STATE_DIR/log/secantusdb.log" "$SECANTUS_VENV/bin/secantusd-py" \
    --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$STATE_DIR/secantusdb" \
    --standalone --log-level WARNING --cache-size 256M
  STARTED_INFRA+=(mongo)
  wait_for SecantusDB 60 mongo_ping
}

stop_mongo() { stop_pid SecantusDB "$STATE_DIR/run/mongo.pid"; }

# ---------------------------------------------------------------- maildev (development mailbox)
mailbox_ready() { curl -fsS -m 2 "http://127.0.0.1:$MAILBOX_PORT/api/healthz"; }

start_mailbox() {
  if settle maildev "$STATE_DIR/run/mailbox.pid" 30 mailbox_ready; then return 0; fi
  if port_open "$SMTP_PORT"; then
    say "mailbox: port $SMTP_PORT is already served by an SMTP server these scripts did not start; using it"
    return 0
  fi
  say "starting maildev (SMTP 127.0.0.1:$SMTP_PORT, mailbox http://127.0.0.1:$MAILBOX_PORT)"
  launch mailbox "$STATE_DIR/log/maildev.log" node "$ROOT/node_modules/maildev/dist/bin/maildev.js" \
    --ip 127.0.0.1 --smtp "$SMTP_PORT" --web-ip 127.0.0.1 --web "$MAILBOX_PORT" --max-emails 1000
  STARTED_INFRA+=(mailbox)
  wait_for maildev 30 mailbox_ready
}

stop_mailbox() { stop_pid maildev "$STATE_DIR/run/mailbox.pid"; }

# ---------------------------------------------------------------- schemathesis (API contract tests)
# Property-based tests of the gateway against its own /openapi.json (tests/e2e/api-contract).
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$CACHE_DIR/schemathesis-$SCHEMATHESIS_VERSION"

install_schemathesis() {
  install_venv "$SCHEMATHESIS_VENV" "schemathesis==$SCHEMATHESIS_VERSION" st \
    "schemathesis $SCHEMATHESIS_VERSION (API contract tests, from PyPI)"
}

# ---------------------------------------------------------------- all of them
INFRA=(rabbitmq mariadb mongo mailbox)

install_infra() {
  command -v curl >/dev/null || apt_install curl ca-certificates
  # One apt transaction for everything Debian provides.
  apt_install rabbitmq-server mariadb-server mariadb-client ffmpeg
  install_mongo
  install_schemathesis
}

# Starts every server that is down; those it started end up in STARTED_INFRA.
start_infra() {
  local name
  for name in "${INFRA[@]}"; do "start_$name"; done
}

stop_infra() {
  local name
  for name in "$@"; do "stop_$name"; done
}
