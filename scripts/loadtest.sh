#!/usr/bin/env bash
# Load test of the HTTP API on loopback with wrk (Debian package `wrk`):
# search and lookup, 64 connections, bounded in time. Prints requests/s and
# latency percentiles. With `reload`: search and FHIR lookups for the given
# time while POST /admin/reload is called 10 times, then wrk's failures and
# the server's resident memory at start, after, and at its peak.
# Usage: scripts/loadtest.sh [seconds per run, default 15] [reload]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
mode="${2:-mix}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk"; exit 1; }

cargo build --release --quiet
port=$((20000 + RANDOM % 20000))
./target/release/harmonie serve --addr "127.0.0.1:$port" --admin-token loadtest >/tmp/harmonie-loadtest.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "server did not start; see /tmp/harmonie-loadtest.log"; exit 1; }

lua=$(mktemp --suffix=.lua)
cat >"$lua" <<'LUA'
-- Rotates through realistic requests given in the PATHS env list.
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^|]+") do paths[#paths + 1] = p end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA

search='/v1/search?q=lomb&system=cim10|/v1/search?q=aide%20soign&system=pcs|/v1/search?q=boulang&system=naf|/v1/search?q=1071c&system=naf|/v1/search?q=canal%20carpein&system=cim10|/v1/search?q=infirmi%C3%A8re&system=pcs|/v1/search?q=TMS&system=cim10|/v1/search?q=commerce%20de%20detail%20fruits&system=naf|/v1/search?q=secretaire|/v1/search?q=M545'
lookup='/v1/systems/naf/concepts/1071c|/v1/systems/cim10/concepts/M545|/v1/systems/pcs/concepts/526A|/v1/systems/cim10/concepts/J45.0|/v1/systems/naf/concepts/47.22Z'

if [ "$mode" = reload ]; then
  rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$server/status"; echo; }
  echo "at start: $(rss)"
  PATHS="$search|/fhir/CodeSystem/\$lookup?system=urn:harmonie:cs:cim-10&code=M54.5" \
    wrk -t2 -c64 -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$port" >/tmp/harmonie-loadtest-wrk.txt &
  load=$!
  sleep 2
  for i in $(seq 1 10); do
    printf 'reload %2d: ' "$i"
    curl -s -X POST -H 'Authorization: Bearer loadtest' "http://127.0.0.1:$port/admin/reload" | cut -c1-120
    echo
    sleep $(( (duration - 5) / 10 ))
  done
  wait $load
  grep -E "Requests/sec|requests in|Non-2xx|Socket errors|99%" /tmp/harmonie-loadtest-wrk.txt
  echo "after ${duration}s of load and 10 reloads: $(rss)"
else
  for run in search lookup; do
    echo "== $run: 64 connections, 2 threads, ${duration}s"
    PATHS="${!run}" wrk -t2 -c64 -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$port" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
  done
fi
rm -f "$lua"
