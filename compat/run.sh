#!/usr/bin/env bash
# Interop suite: Microsoft's Graph SDK for Python, authlib + PyJWT, openid-client + jose
# against a real `portico serve` on a free loopback port with a throw-away SQLite store:
# client credentials, Graph, and the OpenID Connect code flow with PKCE through the hosted
# sign-in pages (driven over plain HTTP), refresh, userinfo and logout; and a B2B guest's whole
# walk (invitation mail, one-time passcode, consent, into an app) in Debian's headless Chromium
# driven by playwright-core (/usr/bin/chromium or CHROMIUM_PATH; scripts/test-all installs
# it; without it that test skips, or fails when CI is set). Screenshots go to compat/out/.
# OpenID Connect federation: npm oidc-provider (panva) as a partner's OpenID Provider
# (compat/node/oidc_op.mjs, started by the test on a free loopback port), and a second
# `portico serve` (its own data dir and port) as a guest's home provider.
#
#   compat/run.sh            build, start, run python + node suites, stop
#
# Python packages go to target/compat/venv (pinned in compat/python/requirements.txt),
# node modules to compat/node/node_modules (npm ci from the committed package-lock.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
VENV="$TARGET_DIR/compat/venv"
PYTHON="${PYTHON:-python3}"

say() { printf '\n--- compat: %s\n' "$*"; }

# Settings of the caller's shell must not leak into the server or the CLI.
for v in $(compgen -e | grep '^PORTICO_' || true); do unset "$v"; done
# Loopback traffic never goes through a proxy.
export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
export NO_PROXY="$no_proxy"

# ---------------------------------------------------------------- build
say "building the portico binary (cargo build -p portico)"
cargo build -p portico
PORTICO="$TARGET_DIR/debug/portico"
[ -x "$PORTICO" ] || { echo "compat: $PORTICO was not built" >&2; exit 1; }

# ---------------------------------------------------------------- python venv
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # Debian's system python ships venv/ensurepip separately.
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing python3-venv (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  else
    echo "compat: $PYTHON cannot create a virtualenv (install python3-venv)" >&2
    exit 1
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
REQ="compat/python/requirements.txt"
stamp="$("$VENV/bin/python" -c 'import sys;print(sys.version)' | tr -d '\n')|$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.compat-requirements" 2>/dev/null || true)" != "$stamp" ]; then
  say "installing python packages from $REQ into $VENV (msgraph-sdk is ~400 MB: the first run takes a minute or two)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q -r "$REQ"
  printf '%s' "$stamp" >"$VENV/.compat-requirements"
else
  say "python packages are up to date with $REQ"
fi

# ---------------------------------------------------------------- node modules
NODE_DIR="compat/node"
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$NODE_DIR/node_modules/.compat-lock" 2>/dev/null || true)" != "$lock_sum" ]; then
  say "installing node modules (npm ci --prefix $NODE_DIR)"
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund
  printf '%s' "$lock_sum" >"$NODE_DIR/node_modules/.compat-lock"
else
  say "node modules are up to date with package-lock.json"
fi

# ---------------------------------------------------------------- store, tenant, apps
DATA="$(mktemp -d "${TMPDIR:-/tmp}/portico-compat.XXXXXX")"
# The second deployment (a guest's home OpenID provider for the federation tests).
DATA2="$(mktemp -d "${TMPDIR:-/tmp}/portico-compat2.XXXXXX")"
SERVER_PID=""
SERVER2_PID=""
STARTED_PID=""
stop_server() {
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  local rc=$?
  stop_server "$SERVER_PID"
  stop_server "$SERVER2_PID"
  stop_server "$STARTED_PID"
  if [ "$rc" -ne 0 ]; then
    for log in "$DATA/cli.log" "$DATA/server.log" "$DATA2/cli.log" "$DATA2/server.log"; do
      [ -s "$log" ] || continue
      echo "--- compat: last lines of $log" >&2
      tail -n 40 "$log" >&2 || true
    done
  fi
  rm -rf "$DATA" "$DATA2"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json_field() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

DOMAIN="contoso.test"
say "creating a tenant, apps and a sign-in user in $DATA"
tenant_json="$("$PORTICO" --data-dir "$DATA" tenant create --name "Contoso Compat" --domain "$DOMAIN" --json 2>>"$DATA/cli.log")"
TENANT="$(json_field id <<<"$tenant_json")"
app_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat full" \
  --permission User.ReadWrite.All --permission Group.ReadWrite.All --permission AuditLog.Read.All \
  --json 2>>"$DATA/cli.log")"
ro_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat read-only" \
  --permission User.Read.All --json 2>>"$DATA/cli.log")"

# Sign-in (authorization code + PKCE): a user with a long random password, and one confidential
# web client per relying-party library (each sees its own first consent). The redirect URI is
# never listened on: the tests catch the 303 that would go there.
RP_USER="rp.user@$DOMAIN"
RP_USER_PASSWORD="$("$PYTHON" -c 'import secrets; print("Cmp-" + secrets.token_urlsafe(24))')"
RP_REDIRECT_URI="http://127.0.0.1:9/compat/callback"
# The password goes through the environment, not the command line.
PORTICO_USER_PASSWORD="$RP_USER_PASSWORD" "$PORTICO" --data-dir "$DATA" user create --tenant "$DOMAIN" \
  --upn "$RP_USER" --name "Rita Relying" --mail "$RP_USER" --json >/dev/null 2>>"$DATA/cli.log"
rp_node_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat RP (openid-client)" \
  --redirect-uri "$RP_REDIRECT_URI" --json 2>>"$DATA/cli.log")"
rp_py_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat RP (authlib)" \
  --redirect-uri "$RP_REDIRECT_URI" --json 2>>"$DATA/cli.log")"
# Registers the public client below through the Graph API (the other apps keep their grants).
apps_admin_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat app registrar" \
  --permission Application.ReadWrite.All --json 2>>"$DATA/cli.log")"

# The browser walk (compat/node/guest_walk.test.mjs) registers a single-page app, invites a
# guest and reads the outbox (the invitation and one-time passcode mails) through Graph.
walk_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat guest walk admin" \
  --permission Application.ReadWrite.All --permission User.ReadWrite.All --json 2>>"$DATA/cli.log")"

# The federation tests (compat/node/federation_*.test.mjs) configure identity providers,
# invite guests, register an application and read the sign-in log through Graph.
fed_json="$("$PORTICO" --data-dir "$DATA" app create --tenant "$DOMAIN" --name "Compat federation admin" \
  --permission IdentityProvider.ReadWrite.All --permission User.ReadWrite.All \
  --permission AuditLog.Read.All --permission Application.ReadWrite.All --json 2>>"$DATA/cli.log")"

# ---------------------------------------------------------------- server
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# start_portico DATA_DIR [serve flags...]: `portico serve` on a free loopback port (up to three
# ports are tried); sets STARTED_PID and STARTED_BASE, or fails.
start_portico() {
  local data="$1" attempt port base
  shift
  STARTED_PID=""
  STARTED_BASE=""
  for attempt in 1 2 3; do
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    say "starting portico serve on $base for $data (attempt $attempt)"
    "$PORTICO" --data-dir "$data" serve --listen "127.0.0.1:$port" "$@" >>"$data/server.log" 2>&1 </dev/null &
    STARTED_PID=$!
    # Bounded wait: 300 x 0.1 s, or until the process dies (e.g. the port was taken meanwhile).
    if "$PYTHON" - "$base/readyz" "$STARTED_PID" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
for _ in range(300):
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
    then
      STARTED_BASE="$base"
      return 0
    fi
    kill "$STARTED_PID" 2>/dev/null || true
    wait "$STARTED_PID" 2>/dev/null || true
    STARTED_PID=""
  done
  return 1
}

# --danger-accept-unverified-domains: this is a throw-away test deployment. The federation tests
# route guests' domains (oidcpartner.test, fabrikam-remote.test, ...) to identity providers, which
# otherwise needs a DNS TXT proof of each domain.
start_portico "$DATA" --danger-accept-unverified-domains ||
  { echo "compat: portico did not become ready" >&2; exit 1; }
SERVER_PID="$STARTED_PID"
STARTED_PID=""
BASE="$STARTED_BASE"
echo "compat: portico is ready on $BASE (tenant $TENANT)"

# ---------------------------------------------------------------- second deployment
# Another Portico with its own store and port: a guest's home OpenID provider. Its tenant has a
# member with a password and a confidential app whose redirect URI is the first deployment's
# federation callback (compat/node/federation_portico.test.mjs).
DOMAIN2="fabrikam-remote.test"
say "creating the second deployment's tenant, user and app in $DATA2"
tenant2_json="$("$PORTICO" --data-dir "$DATA2" tenant create --name "Fabrikam Remote" --domain "$DOMAIN2" \
  --json 2>>"$DATA2/cli.log")"
TENANT2="$(json_field id <<<"$tenant2_json")"
REMOTE_USER="remy.remote@$DOMAIN2"
REMOTE_USER_PASSWORD="$("$PYTHON" -c 'import secrets; print("Rmt-" + secrets.token_urlsafe(24))')"
PORTICO_USER_PASSWORD="$REMOTE_USER_PASSWORD" "$PORTICO" --data-dir "$DATA2" user create --tenant "$DOMAIN2" \
  --upn "$REMOTE_USER" --name "Remy Remote" --mail "$REMOTE_USER" --json >/dev/null 2>>"$DATA2/cli.log"
remote_app_json="$("$PORTICO" --data-dir "$DATA2" app create --tenant "$DOMAIN2" --name "Contoso Compat (federation)" \
  --redirect-uri "$BASE/$TENANT/federation/oidc/callback" --json 2>>"$DATA2/cli.log")"
start_portico "$DATA2" || { echo "compat: the second portico did not become ready" >&2; exit 1; }
SERVER2_PID="$STARTED_PID"
STARTED_PID=""
BASE2="$STARTED_BASE"
echo "compat: the second portico is ready on $BASE2 (tenant $TENANT2)"

export PORTICO_BASE="$BASE"
export PORTICO_TENANT="$TENANT"
export PORTICO_DOMAIN="$DOMAIN"
PORTICO_CLIENT_ID="$(json_field appId <<<"$app_json")"
PORTICO_CLIENT_SECRET="$(json_field clientSecret <<<"$app_json")"
PORTICO_RO_CLIENT_ID="$(json_field appId <<<"$ro_json")"
PORTICO_RO_CLIENT_SECRET="$(json_field clientSecret <<<"$ro_json")"
export PORTICO_CLIENT_ID PORTICO_CLIENT_SECRET PORTICO_RO_CLIENT_ID PORTICO_RO_CLIENT_SECRET
export PORTICO_USER="$RP_USER"
export PORTICO_USER_PASSWORD="$RP_USER_PASSWORD"
export PORTICO_RP_REDIRECT_URI="$RP_REDIRECT_URI"
PORTICO_RP_CLIENT_ID="$(json_field appId <<<"$rp_node_json")"
PORTICO_RP_CLIENT_SECRET="$(json_field clientSecret <<<"$rp_node_json")"
PORTICO_RP_PY_CLIENT_ID="$(json_field appId <<<"$rp_py_json")"
PORTICO_RP_PY_CLIENT_SECRET="$(json_field clientSecret <<<"$rp_py_json")"
export PORTICO_RP_CLIENT_ID PORTICO_RP_CLIENT_SECRET PORTICO_RP_PY_CLIENT_ID PORTICO_RP_PY_CLIENT_SECRET
PORTICO_WALK_CLIENT_ID="$(json_field appId <<<"$walk_json")"
PORTICO_WALK_CLIENT_SECRET="$(json_field clientSecret <<<"$walk_json")"
export PORTICO_WALK_CLIENT_ID PORTICO_WALK_CLIENT_SECRET
PORTICO_FED_CLIENT_ID="$(json_field appId <<<"$fed_json")"
PORTICO_FED_CLIENT_SECRET="$(json_field clientSecret <<<"$fed_json")"
export PORTICO_FED_CLIENT_ID PORTICO_FED_CLIENT_SECRET
export PORTICO2_BASE="$BASE2"
export PORTICO2_TENANT="$TENANT2"
export PORTICO2_DOMAIN="$DOMAIN2"
export PORTICO2_USER="$REMOTE_USER"
export PORTICO2_USER_PASSWORD="$REMOTE_USER_PASSWORD"
PORTICO2_CLIENT_ID="$(json_field appId <<<"$remote_app_json")"
PORTICO2_CLIENT_SECRET="$(json_field clientSecret <<<"$remote_app_json")"
export PORTICO2_CLIENT_ID PORTICO2_CLIENT_SECRET

# A public client (publicClient redirect URI: no secret, PKCE only), registered the way an
# administrator would: through the Graph API (POST /applications, /servicePrincipals).
say "registering a public client through the Graph API"
export PORTICO_RP_PUBLIC_REDIRECT_URI="http://127.0.0.1:9/compat/public-callback"
PORTICO_RP_PUBLIC_CLIENT_ID="$(APPS_ADMIN_JSON="$apps_admin_json" "$PYTHON" - <<'EOF'
import json, os, urllib.parse, urllib.request
base, tenant = os.environ["PORTICO_BASE"], os.environ["PORTICO_TENANT"]
admin = json.loads(os.environ["APPS_ADMIN_JSON"])
def call(url, body, token=None, form=False):
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    headers = {"content-type": "application/x-www-form-urlencoded" if form else "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as r:
        return json.load(r)
token = call(f"{base}/{tenant}/oauth2/v2.0/token", {
    "grant_type": "client_credentials", "client_id": admin["appId"],
    "client_secret": admin["clientSecret"], "scope": "https://graph.microsoft.com/.default",
}, form=True)["access_token"]
app = call(f"{base}/v1.0/applications", {
    "displayName": "Compat RP (public)",
    "publicClient": {"redirectUris": [os.environ["PORTICO_RP_PUBLIC_REDIRECT_URI"]]},
}, token)
call(f"{base}/v1.0/servicePrincipals", {"appId": app["appId"]}, token)
print(app["appId"])
EOF
)"
export PORTICO_RP_PUBLIC_CLIENT_ID

# ---------------------------------------------------------------- suites
py_rc=0
node_rc=0
say "python: pytest compat/python (msgraph-sdk, authlib, PyJWT)"
timeout 600 "$VENV/bin/python" -m pytest -q -p no:cacheprovider compat/python || py_rc=$?
say "node: node --test compat/node/ (openid-client, jose; the guest walk in headless Chromium; federation with oidc-provider and a second portico)"
timeout 420 node --test --test-timeout=60000 compat/node/ || node_rc=$?

say "python exit $py_rc, node exit $node_rc"
if [ "$py_rc" -ne 0 ] || [ "$node_rc" -ne 0 ]; then
  exit 1
fi
