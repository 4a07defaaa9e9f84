#!/usr/bin/env bash
# 10,000 tenants in one deployment: creation time per tenant for each block of 1,000 (printed by
# `portico seed tenants`), and a running server's memory before and after it touches all of them
# (discovery + JWKS of every tenant, which fills the key caches).
# Usage: benches/tenants.sh [count=10000] [database-url]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-10000}
cargo build --release -q -p portico
BIN=target/release/portico
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
ARGS=(--data-dir "$DATA")
if [ -n "${2:-}" ]; then ARGS+=(--database-url "$2"); fi
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
PORTICO_LOG=warn $BIN "${ARGS[@]}" serve --listen 127.0.0.1:$PORT >/dev/null &
SERVER=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
echo "server RSS before: $(awk '/VmRSS/{print $2}' /proc/$SERVER/status) KiB"
PORTICO_LOG=warn $BIN "${ARGS[@]}" seed tenants --count "$COUNT"
echo "server RSS after creation: $(awk '/VmRSS/{print $2}' /proc/$SERVER/status) KiB"
$BIN "${ARGS[@]}" tenant list --json | python3 -c '
import json,sys,urllib.request
port=sys.argv[1]
ids=[t["id"] for t in json.load(sys.stdin)]
for i,t in enumerate(ids):
    urllib.request.urlopen(f"http://127.0.0.1:{port}/{t}/discovery/v2.0/keys").read()
print(f"fetched the JWKS of {len(ids)} tenants")
' "$PORT"
echo "server RSS after touching every tenant: $(awk '/VmRSS/{print $2}' /proc/$SERVER/status) KiB"
