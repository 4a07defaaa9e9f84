#!/usr/bin/env bash
# Time from process start to ready (an existing store) and resident memory at idle.
# Usage: benches/startup-memory.sh [runs=10]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --release -q -p portico
BIN=target/release/portico
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
PORTICO_LOG=warn $BIN --data-dir "$DATA" migrate >/dev/null
$BIN --data-dir "$DATA" tenant create --name Existing --domain existing.test >/dev/null
echo "run  ready_ms  rss_idle_kib"
for i in $(seq "$RUNS"); do
  PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  START=$(date +%s%N)
  PORTICO_LOG=warn $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >/dev/null &
  PID=$!
  for _ in $(seq 500); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.002; done
  READY=$(( ($(date +%s%N) - START) / 1000000 ))
  sleep 5
  RSS=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  echo "$i    $READY        $RSS"
  kill $PID; wait $PID 2>/dev/null || true
done
