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
# It prints each round's rates and ratio B/A, and the median ratio (the target is >= 0.9).
# Then, when valgrind is installed, it counts the instructions each server executes per request
# under callgrind (user space only; the kernel's share is the same for both): a figure that does
# not move with the machine's load. Set BENCH_CALLGRIND=0 to skip that part.
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
PGOPTIONS="-c client_min_messages=warning" psql -q -d postgres -c "DROP DATABASE IF EXISTS coop_bench" -c "CREATE DATABASE coop_bench" >/dev/null

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
ratios=()
for round in $(seq "$rounds"); do
    b=$(measure "http://127.0.0.1:$base_port/v1/hello/ping")
    c=$(measure "http://127.0.0.1:$coop_port/v1/hello/ping")
    r=$(awk -v a="$c" -v b="$b" 'BEGIN {print a / b}')
    base_rates+=("$b")
    coop_rates+=("$c")
    ratios+=("$r")
    printf 'round %d: baseline %8.0f req/s   coopd %8.0f req/s   ratio %.3f\n' "$round" "$b" "$c" "$r"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '\nwrk -t1 -c%d -d%ss, %d rounds, %s, %d cores\n' "$connections" "$seconds" "$rounds" \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)"
printf 'median baseline (bare evhttp):   %.0f req/s\n' "$(median "${base_rates[@]}")"
printf 'median coopd GET /v1/hello/ping: %.0f req/s\n' "$(median "${coop_rates[@]}")"
printf 'median ratio coopd/baseline:     %.3f (target >= 0.9)\n' "$(median "${ratios[@]}")"

[ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null || exit 0

# Instructions per request: two runs with N1 and N2 requests; the difference divided by N2 - N1
# cancels start-up and shutdown.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
n1=500
n2=2500
instructions() { # LABEL PORT N COMMAND...
    local label=$1 port=$2 n=$3
    shift 3
    local out=$work/callgrind.$label.$n
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" 2>"$work/valgrind.$label.log" &
    local pid=$!
    for _ in $(seq 300); do
        curl -fsS -o /dev/null -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/v1/hello/ping" 2>/dev/null && break
        sleep 0.1
    done
    python3 bench/http_client.py "http://127.0.0.1:$port/v1/hello/ping" "$n" "$token"
    kill -TERM "$pid"
    wait "$pid" || true
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}
per_request() { # LABEL PORT COMMAND...
    local label=$1 port=$2
    shift 2
    local a b
    a=$(instructions "$label" "$port" "$n1" "$@")
    b=$(instructions "$label" "$port" "$n2" "$@")
    awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" 'BEGIN {printf "%.0f", (b - a) / (n2 - n1)}'
}
ib=$(per_request base "$base_port" "$build/bench/bench_baseline_server" "$base_port")
ic=$(per_request coopd "$coop_port" "$build/core/coopd" "$work/bench.json")
printf '\ncallgrind, user-space instructions per request (one keep-alive connection, %d vs %d requests):\n' "$n2" "$n1"
printf 'baseline (bare evhttp):   %s\n' "$ib"
printf 'coopd GET /v1/hello/ping: %s\n' "$ic"
printf 'ratio baseline/coopd:     %.3f\n' "$(awk -v a="$ib" -v b="$ic" 'BEGIN {print a / b}')"
