#!/usr/bin/env bash
# Side-by-side HTTP measurement (issue: search at half the speed of an empty
# axum server). Builds an axum "hello world" with the project's Cargo.lock
# (same axum, tokio and hyper), then serves each in turn pinned to core 0
# while wrk, pinned to core 1, replays the autocomplete mix (words typed
# letter by letter in CIM-10, NAF and PCS, and codes) with 64 connections.
# Prints requests/s and latency percentiles of both, and their ratio.
# Needs: wrk and taskset (Debian packages wrk, util-linux), 2 cores.
# Usage: scripts/perf.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
conns="${2:-64}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is required: apt-get install util-linux"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "two cores are needed: one serves, one loads"; exit 1; }

cargo build --release --quiet

# The baseline: every path answers a fixed small JSON body.
hello=target/perf-hello
mkdir -p "$hello/src"
cp Cargo.lock "$hello/Cargo.lock"
axum_version=$(sed -n 's/^axum = "\(.*\)"$/\1/p' Cargo.toml)
tokio_version=$(sed -n 's/^tokio = { version = "\([^"]*\)".*/\1/p' Cargo.toml)
cat >"$hello/Cargo.toml" <<TOML
[package]
name = "perf-hello"
version = "0.1.0"
edition = "2024"

[dependencies]
axum = "$axum_version"
tokio = { version = "$tokio_version", features = ["full"] }

[workspace]
TOML
cat >"$hello/src/main.rs" <<'RUST'
//! The baseline of scripts/perf.sh: an axum server that answers every
//! path with the same JSON body: `{"results":[]}`, or the content of the
//! file named by the second argument.
#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).expect("an address");
    let body: &'static str = match std::env::args().nth(2) {
        Some(file) => std::fs::read_to_string(file).expect("a body file").leak(),
        None => r#"{"results":[]}"#,
    };
    let app = axum::Router::new().fallback(move || async move {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], body)
    });
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
RUST
(cd "$hello" && cargo build --release --quiet --offline 2>/dev/null || cargo build --release --quiet)

lua=$(mktemp --suffix=.lua)
trap 'rm -f "$lua"' EXIT
# The requests replayed: benches/autocomplete_mix.txt (also read by
# benches/fhir.rs), one path per line.
cat >"$lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("HARMONIE_MIX")) do
  if line:sub(1, 1) == "/" then paths[#paths + 1] = line end
end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
export HARMONIE_MIX="$PWD/benches/autocomplete_mix.txt"

# Runs wrk against the server started by "$@", where the word ADDR stands
# for its address; prints "rps p50 p99".
measure() {
  local port=$((20000 + RANDOM % 20000))
  local args=("${@/#ADDR/127.0.0.1:$port}")
  taskset -c 0 "${args[@]}" >/tmp/harmonie-perf-server.log 2>&1 &
  local server=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/v1/search?q=lo" >/dev/null 2>&1 && break
    sleep 0.1
  done
  taskset -c 1 wrk -t1 -c"$conns" -d3s -s "$lua" "http://127.0.0.1:$port" >/dev/null # warm-up
  local out
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$port")
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$rps $p50 $p99"
}

# A second baseline answers as many bytes as Harmonie does: the body of a
# typical search of the mix (eight CIM-10 results with their ancestors).
body=$(mktemp --suffix=.json)
trap 'rm -f "$lua" "$body"' EXIT
(
  port=$((20000 + RANDOM % 20000))
  ./target/release/harmonie serve --addr "127.0.0.1:$port" >/tmp/harmonie-perf-server.log 2>&1 &
  server=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/v1/search?limit=8&system=cim10&q=lomb" >"$body" 2>/dev/null && break
    sleep 0.1
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
)

read -r h_rps h_p50 h_p99 < <(measure "$hello/target/release/perf-hello" ADDR)
read -r b_rps b_p50 b_p99 < <(measure "$hello/target/release/perf-hello" ADDR "$body")
read -r s_rps s_p50 s_p99 < <(measure ./target/release/harmonie serve --addr ADDR)
printf '%-30s %12s %10s %10s\n' "server (core 0)" "requests/s" "p50" "p99"
printf '%-30s %12s %10s %10s\n' "axum hello world" "$h_rps" "$h_p50" "$h_p99"
printf '%-30s %12s %10s %10s\n' "axum, same $(wc -c <"$body") bytes" "$b_rps" "$b_p50" "$b_p99"
printf '%-30s %12s %10s %10s\n' "harmonie /v1/search" "$s_rps" "$s_p50" "$s_p99"
awk -v s="$s_rps" -v h="$h_rps" 'BEGIN { printf "ratio (harmonie / hello world): %.2f\n", s / h }'
awk -v s="$s_rps" -v b="$b_rps" 'BEGIN { printf "ratio (harmonie / same bytes):  %.2f\n", s / b }'
