#!/usr/bin/env bash
# Client-credentials grants per second against a release `portico serve`, measured by wrk (an
# independent load generator) on loopback, next to the machine's raw RS256 signing rate.
# Usage: benches/token-rate.sh [seconds=20] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
CONNS=${2:-32}
command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p portico -p portico-bench
BIN=target/release/portico
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
T=$($BIN --data-dir "$DATA" tenant create --name Bench --domain bench.test --json)
TID=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])' <<<"$T")
A=$($BIN --data-dir "$DATA" app create --tenant bench.test --name loader --permission User.Read.All --json)
CID=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["appId"])' <<<"$A")
SEC=$(python3 -c 'import json,sys,urllib.parse;print(urllib.parse.quote(json.load(sys.stdin)["clientSecret"],safe=""))' <<<"$A")
PORTICO_LOG=warn $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >/dev/null &
SERVER=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
LUA=$(mktemp)
cat >"$LUA" <<LUAEOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=$CID&client_secret=$SEC&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUAEOF
# One request first, to check the setup answers 200.
curl -sf -o /dev/null -X POST http://127.0.0.1:$PORT/$TID/oauth2/v2.0/token -H 'content-type: application/x-www-form-urlencoded' --data "$(sed -n 's/^wrk.body = "\(.*\)"$/\1/p' "$LUA")"
echo "== wrk: $CONNS connections, 2 threads, ${SECS}s, RS256 =="
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "http://127.0.0.1:$PORT/$TID/oauth2/v2.0/token"
echo "== raw signing rate (one core, ceiling) =="
target/release/portico-bench sign-rate --alg RS256 --seconds 5
rm -f "$LUA"
