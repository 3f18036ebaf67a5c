#!/usr/bin/env bash
# The sidecar under load on PostgreSQL (loopback), one build, one run:
#   - one replica: forward-auth (decision log at its default) and /health;
#   - two replicas on the same database behind nginx's `upstream`
#     (round robin): forward-auth and /health through nginx.
# What a replica adds, for operators; rows of BENCHMARKS.md.
# Usage: host/service/benches/load-postgres.sh [connections=16] [seconds=8]
# Needs wrk, nginx and PostgreSQL 15 (Debian: apt-get install wrk nginx
# postgresql); run as root or as a user who may run initdb.
# MFA_RESET_BIN=path measures that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CONNECTIONS=${1:-16}
SECONDS_PER_RUN=${2:-8}
for tool in wrk nginx; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ -z "${MFA_RESET_BIN:-}" ]; then
  cargo build -q --release -p mfa-reset-cli
fi
BIN=${MFA_RESET_BIN:-$PWD/target/release/mfa-reset}
WORK=$(mktemp -d)
chmod 755 "$WORK"
export XDG_CACHE_HOME=$WORK/cache
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$WORK/pg" && [ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U mfa --auth=trust --no-sync >/dev/null
PG_PORT=$(free_port)
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" -l "$WORK/pg/log" -w start >/dev/null
export MFA_RESET_DATABASE="postgres://mfa@127.0.0.1:$PG_PORT/postgres"
export MFA_RESET_SECRET_KEY
MFA_RESET_SECRET_KEY=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')

start_replica() { # name port
  "$BIN" serve --demo --listen 127.0.0.1:$2 --data-dir "$WORK/$1" --insecure-cookies >/dev/null 2>&1 &
  PIDS+=($!)
  until curl -s -o /dev/null "http://127.0.0.1:$2/health"; do sleep 0.05; done
}
run() {
  local name=$1; shift
  echo "$name (wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s)"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s host/service/benches/report.lua "$@" | grep -- '->'
}
forward_auth() { # base
  run "forward-auth via $1" -H "Authorization: Bearer $TOKEN" \
    -H 'X-Original-Method: GET' -H 'X-Original-URI: /app/home' "$1/forward-auth"
}

A=$(free_port); B=$(free_port); N=$(free_port)
start_replica a "$A"
TOKEN=$(curl -s -H 'content-type: application/json' -d '{"user":"bob","password":"bob-demo-password"}' \
  "http://127.0.0.1:$A/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "== one replica on PostgreSQL"
forward_auth "http://127.0.0.1:$A"
run "/health" "http://127.0.0.1:$A/health"

start_replica b "$B"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-body;
  proxy_temp_path $WORK/nginx-proxy;
  upstream replicas { server 127.0.0.1:$A; server 127.0.0.1:$B; keepalive 32; }
  server {
    listen 127.0.0.1:$N;
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf"
until curl -s -o /dev/null "http://127.0.0.1:$N/health"; do sleep 0.05; done
echo "== two replicas on PostgreSQL behind nginx (upstream, round robin)"
forward_auth "http://127.0.0.1:$N"
run "/health via nginx" "http://127.0.0.1:$N/health"
echo "== one replica behind nginx, for comparison"
sed -i "s/ server 127.0.0.1:$B;//" "$WORK/nginx.conf"
nginx -c "$WORK/nginx.conf" -s reload
sleep 0.5
forward_auth "http://127.0.0.1:$N"
