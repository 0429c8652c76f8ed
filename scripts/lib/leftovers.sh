#!/usr/bin/env bash
# Fails if a test left a database, a queue, a GridFS database or a temp directory behind.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/lib/infra.sh"

found=()
dbs=$(mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -u"$DEV_MYSQL_USER" -p"$DEV_MYSQL_PASSWORD" \
  -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'mp3test\\_%'")
[ -z "$dbs" ] || found+=("MySQL databases: $(echo $dbs)")
queues=$(curl -fsS -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/queues?columns=name" |
  "$NODE_HOME/bin/node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const q of JSON.parse(s))if(q.name.startsWith("test-"))console.log(q.name)})')
[ -z "$queues" ] || found+=("RabbitMQ queues: $(echo $queues)")
vhosts=$(curl -fsS -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/vhosts?columns=name" |
  "$NODE_HOME/bin/node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const v of JSON.parse(s))if(v.name.startsWith("mp3test"))console.log(v.name)})')
[ -z "$vhosts" ] || found+=("RabbitMQ vhosts: $(echo $vhosts)")
mongo=$("$SECANTUS_VENV/bin/python" -c "
import pymongo
c = pymongo.MongoClient('mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true', serverSelectionTimeoutMS=2000)
print(' '.join(n for n in c.list_database_names() if n.startswith('mp3test')))")
[ -z "$mongo" ] || found+=("MongoDB databases: $mongo")
# Test media and the converters' temp directories (the converter's own temp files are checked
# by its tests: the temp directory is empty after every scenario).
tmp=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'mp3test-*' 2>/dev/null || true)
[ -z "$tmp" ] || found+=("temp directories: $(echo $tmp)")

if [ "${#found[@]}" -gt 0 ]; then
  printf 'tests left these behind:\n' >&2
  printf '  %s\n' "${found[@]}" >&2
  exit 1
fi
