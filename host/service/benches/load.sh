#!/usr/bin/env bash
# The sidecar under load, on loopback, one build, one run (the machine is
# shared: compare rows of the same run). Rows of BENCHMARKS.md:
#   - cold start: process start to the first forward-auth answer, with the
#     compiled component already cached;
#   - forward-auth (nginx header family, a sub-user on /app/home),
#     one console read (GET /api/session, a `view_session` decision), and
#     /health (the HTTP stack's ceiling): requests/s, p50/p99/p99.9;
#   - peak RSS of the service afterwards;
#   - forward-auth again on a service with the decision log off
#     (MFA_RESET_DECISION_LOG_SAMPLE=0): what the log costs, in one run.
# Usage: host/service/benches/load.sh [connections=16] [seconds=10]
# MFA_RESET_BIN=path measures that binary instead of building one (to
# compare two builds in one session).
# Needs wrk (Debian: apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CONNECTIONS=${1:-16}
SECONDS_PER_RUN=${2:-10}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

if [ -z "${MFA_RESET_BIN:-}" ]; then
  cargo build -q --release -p mfa-reset-cli
fi
BIN=${MFA_RESET_BIN:-$PWD/target/release/mfa-reset}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
export XDG_CACHE_HOME=$WORK/cache

start_service() {
  "$BIN" serve --demo --listen 127.0.0.1:$PORT --data-dir "$WORK/data" --insecure-cookies >/dev/null 2>&1 &
  PID=$!
}
stop_service() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap 'stop_service; rm -rf "$WORK"' EXIT

login() {
  curl -s -H 'content-type: application/json' \
    -d "{\"user\":\"$1\",\"password\":\"$1-demo-password\"}" "$BASE/api/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
wait_for() { until curl -s -o /dev/null "$BASE/health"; do sleep 0.005; done; }

# First start compiles the component into the cache; the second is timed.
start_service; wait_for; TOKEN=$(login bob); stop_service
T0=$(date +%s%N)
start_service
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'X-Original-Method: GET' -H 'X-Original-URI: /app/home' "$BASE/forward-auth")" = 200 ]; do
  sleep 0.002
done
T1=$(date +%s%N)
echo "cold start to first forward-auth decision (cached component): $(( (T1 - T0) / 1000000 )) ms"

run() {
  local name=$1; shift
  # A second of warm-up first (instances, caches), not measured.
  wrk -t2 -c"$CONNECTIONS" -d1s "$@" >/dev/null
  echo "$name (wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s)"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s host/service/benches/report.lua "$@" | grep -- '->'
}
run "forward-auth" -H "Authorization: Bearer $TOKEN" \
  -H 'X-Original-Method: GET' -H 'X-Original-URI: /app/home' "$BASE/forward-auth"
run "console read GET /api/session" -H "Authorization: Bearer $TOKEN" "$BASE/api/session"
run "/health" "$BASE/health"
echo "peak RSS: $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$PID/status)"
stop_service
MFA_RESET_DECISION_LOG_SAMPLE=0 start_service; wait_for
run "forward-auth, decision log off" -H "Authorization: Bearer $TOKEN" \
  -H 'X-Original-Method: GET' -H 'X-Original-URI: /app/home' "$BASE/forward-auth"
