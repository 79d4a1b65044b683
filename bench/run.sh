#!/usr/bin/env bash
# The HTTP benchmark (item 9 of issue 2). Not a test: it measures, prints, asserts nothing.
#
#   bench/run.sh [SECONDS] [ROUNDS]      defaults: 5 seconds per measurement, 3 rounds
#
# Builds a Release tree in build-bench/, starts a private PostgreSQL (.pgdata-bench), then in the
# same run measures with wrk, alternating A/B in each round so that noise on a shared machine hits
# both alike:
#   A  bench_baseline_server: a bare evhttp server answering GET /v1/hello/ping with fixed JSON;
#   B  coopd with the hello plugin: router, bearer token check, plugin handler, JSON reply, access
#      log and metrics, on GET /v1/hello/ping.
# It prints each round's rates, the median of each, and the ratio B/A (the target is >= 0.9).
set -euo pipefail

seconds=${1:-5}
rounds=${2:-3}
connections=${BENCH_CONNECTIONS:-32}
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$checkout"

bash scripts/deps.sh >/dev/null
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

build=$checkout/build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

pgdir=$checkout/.pgdata-bench
if { [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$checkout"; } || [ ${#pgdir} -gt 90 ]; then
    pgdir=$(mktemp -d /tmp/coop-pgbench.XXXXXX)
fi
work=$(mktemp -d /tmp/coop-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

COOP_PG_FAST=1 bash scripts/pg.sh start "$pgdir" 2>/dev/null
eval "$(bash scripts/pg.sh env "$pgdir")"
psql -q -d postgres -c "DROP DATABASE IF EXISTS coop_bench" -c "CREATE DATABASE coop_bench" >/dev/null

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
coop_port=$(free_port)
base_port=$(free_port)
cat >"$work/bench.json" <<JSON
{
  "listen": "127.0.0.1:$coop_port",
  "database": { "conninfo": "dbname=coop_bench", "pool_size": 2 },
  "plugin_dir": "$build/plugins",
  "plugins": { "hello": {} }
}
JSON

token=$("$build/core/coopd" --create-operator-token "$work/bench.json" --label bench)
"$build/core/coopd" "$work/bench.json" 2>"$work/coopd.log" &
pids+=($!)
"$build/bench/bench_baseline_server" "$base_port" &
pids+=($!)

wait_http() {
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$1"; then return 0; fi
        sleep 0.1
    done
    echo "bench: $1 did not answer; coopd log:" >&2
    tail -n 20 "$work/coopd.log" >&2
    exit 1
}
wait_http "http://127.0.0.1:$base_port/v1/hello/ping"
wait_http "http://127.0.0.1:$coop_port/v1/hello/ping"

# Requests per second that wrk reports for one measurement.
measure() {
    wrk -t1 -c"$connections" -d"${seconds}s" -H "Authorization: Bearer $token" "$1" |
        awk '/^Requests\/sec:/ {print $2}'
}
measure "http://127.0.0.1:$base_port/v1/hello/ping" >/dev/null # warm-up
measure "http://127.0.0.1:$coop_port/v1/hello/ping" >/dev/null

base_rates=()
coop_rates=()
for round in $(seq "$rounds"); do
    b=$(measure "http://127.0.0.1:$base_port/v1/hello/ping")
    c=$(measure "http://127.0.0.1:$coop_port/v1/hello/ping")
    base_rates+=("$b")
    coop_rates+=("$c")
    printf 'round %d: baseline %10.0f req/s   coopd %10.0f req/s   ratio %.3f\n' \
        "$round" "$b" "$c" "$(awk -v a="$c" -v b="$b" 'BEGIN {print a / b}')"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mb=$(median "${base_rates[@]}")
mc=$(median "${coop_rates[@]}")
printf '\nwrk -t1 -c%d -d%ss, %d rounds, %s, %d cores\n' "$connections" "$seconds" "$rounds" \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)"
printf 'median baseline (bare evhttp): %.0f req/s\n' "$mb"
printf 'median coopd GET /v1/hello/ping: %.0f req/s\n' "$mc"
printf 'ratio coopd/baseline: %.3f (target >= 0.9)\n' "$(awk -v a="$mc" -v b="$mb" 'BEGIN {print a / b}')"
