#!/usr/bin/env bash
# Load test of the ABIS API with wrk (Debian package): verify and identify against a gallery of
# 10,000 templates (one real enrolled subject plus synthetic ones), on loopback only.
#   Benchmarks/load/run.sh [duration-seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-20}
CONNECTIONS=${2:-4}
PORT=${PORT:-18080}
BIN=.build/release/argus
SHARED=${ARGUS_SHARED:-../shared}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
[ -x "$BIN" ] || { echo "build first: swift build -c release"; exit 1; }
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT

$BIN bench seed --data-dir "$DATA" --count 9999 >/dev/null
$BIN serve --data-dir "$DATA" --port "$PORT" --models models --log-level warning > "$DATA/serve.log" &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
KEY=$(grep -o 'sk_test_[A-Za-z0-9]*' "$DATA/serve.log" | head -1)
BASE="http://127.0.0.1:$PORT"
SUBJECT=$(curl -s -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"external_id":"hugo"}' "$BASE/v1/subjects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: image/jpeg' --data-binary "@$SHARED/faces/images/Hugo_Chavez/0001.jpg" "$BASE/v1/subjects/$SUBJECT/faces"
PROBE=$(base64 -w0 "$SHARED/faces/images/Hugo_Chavez/0002.jpg")
printf '{"subject_id":"%s","image":"%s"}' "$SUBJECT" "$PROBE" > "$DATA/verify.json"
printf '{"image":"%s","top_k":5}' "$PROBE" > "$DATA/identify.json"
for ROUTE in verify identify; do
  cat > "$DATA/$ROUTE.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$DATA/$ROUTE.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
  echo "== POST /v1/$ROUTE, gallery of $(curl -s "$BASE/metrics" | awk '/^argus_templates/ {print $2}') templates, $CONNECTIONS connections, ${DURATION}s"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DATA/$ROUTE.lua" "$BASE/v1/$ROUTE" | grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx'
done
