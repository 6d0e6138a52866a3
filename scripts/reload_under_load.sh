#!/usr/bin/env bash
# Reloads under load: a release server on loopback takes 64 connections of
# search (wrk, Debian package `wrk`) while POST /admin/reload is called 10
# times; prints wrk's failures, each reload's answer, and the server's
# resident memory at start, after the load and reloads, and its peak.
# Usage: scripts/reload_under_load.sh [seconds of load, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-60}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk"; exit 1; }

cargo build --release --quiet
port=$((20000 + RANDOM % 20000))
./target/release/harmonie serve --addr "127.0.0.1:$port" --admin-token reload-test >/tmp/harmonie-reload.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$server/status"; echo; }
echo "at start: $(rss)"

lua=$(mktemp --suffix=.lua)
cat >"$lua" <<'LUA'
local paths = {"/v1/search?q=lomb&system=cim10", "/v1/search?q=aide%20soign&system=pcs", "/v1/search?q=boulang&system=naf",
  "/v1/search?q=1071c&system=naf", "/v1/search?q=canal%20carpein&system=cim10", "/v1/search?q=secretaire",
  "/fhir/CodeSystem/$lookup?system=urn:harmonie:cs:cim-10&code=M54.5"}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
wrk -t2 -c64 -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$port" >/tmp/harmonie-reload-wrk.txt &
load=$!
sleep 2
step=$(( (duration - 5) / 10 ))
for i in $(seq 1 10); do
  printf 'reload %2d: ' "$i"
  curl -s -X POST -H 'Authorization: Bearer reload-test' "http://127.0.0.1:$port/admin/reload" | cut -c1-120
  echo
  sleep "$step"
done
wait $load
grep -E "Requests/sec|requests in|Non-2xx|Socket errors|99%" /tmp/harmonie-reload-wrk.txt
echo "after ${duration}s of load and 10 reloads: $(rss)"
rm -f "$lua"
