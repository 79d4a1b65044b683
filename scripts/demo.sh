#!/usr/bin/env bash
# Command (a): the demo. Installs missing Debian packages, builds, starts a private PostgreSQL
# (data in .pgdata), starts coopd with config/dev.json (log in .run/coopd.log), loads demo data
# and prints the URL and an operator token. Stays in the foreground until Ctrl-C, then stops
# coopd and the cluster.
#
#   scripts/demo.sh          run the demo
#   scripts/demo.sh stop     stop a demo left running (coopd and the cluster)
set -euo pipefail

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$checkout"
config=$checkout/config/dev.json
run_dir=$checkout/.run
pid_file=$run_dir/coopd.pid
demo_pid_file=$run_dir/demo.pid
log=$run_dir/coopd.log
pgdir=$checkout/.pgdata

say() { echo "demo: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# The pid in FILE if that process is alive and its command line still contains WORD.
running_pid() {
    local file=$1 word=$2 pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$word" || return 1
    echo "$pid"
}

# Sends SIGTERM to PID and waits up to SECONDS for it to exit; fails if it is still there.
terminate() {
    local pid=$1 seconds=$2 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null
}

stop_coopd() {
    local pid
    if pid=$(running_pid "$pid_file" coopd); then
        if ! terminate "$pid" 10; then
            say "coopd ($pid) did not stop within 10 s of SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "coopd stopped"
    fi
    rm -f "$pid_file"
}

stop_all() {
    stop_coopd
    if [ -e "$pgdir" ]; then
        bash scripts/pg.sh stop "$pgdir" || true
    fi
}

if [ "${1:-}" = stop ]; then
    # A demo in the foreground elsewhere stops everything itself when told to (its TERM trap).
    if demo_pid=$(running_pid "$demo_pid_file" demo.sh); then
        terminate "$demo_pid" 30 || true
    fi
    stop_all
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: scripts/demo.sh [stop]" >&2
    exit 2
fi

[ -f "$config" ] || die "missing $config"
if other=$(running_pid "$demo_pid_file" demo.sh) && [ "$other" != $$ ]; then
    die "a demo is already running (pid $other); stop it with scripts/demo.sh stop"
fi

bash scripts/deps.sh

say "building (build/)"
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
coopd=$checkout/build/core/coopd
[ -x "$coopd" ] || die "the build made no $coopd"

# As root the cluster runs as user postgres, who may not be able to enter the checkout (say, under
# /root); a deep checkout would also overflow the Unix socket path. Then .pgdata is a link to a
# folder in /var/tmp that postgres can reach, named after the checkout so it is found again.
if [ ! -e "$pgdir" ]; then
    if { [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$checkout"; } ||
        [ ${#pgdir} -gt 90 ]; then
        elsewhere=/var/tmp/coop-pgdata-$(printf '%s' "$checkout" | sha256sum | cut -c1-12)
        mkdir -p "$elsewhere"
        ln -s "$elsewhere" "$pgdir"
        say "user postgres cannot reach $checkout: the cluster lives in $elsewhere (.pgdata links to it)"
    fi
fi

stop_coopd # a coopd from an earlier run that was not stopped
mkdir -p "$run_dir"
echo $$ >"$demo_pid_file"
trap 'stop_all; rm -f "$demo_pid_file"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/pg.sh start "$pgdir"
eval "$(bash scripts/pg.sh env "$pgdir")"
export PGHOST PGPORT PGUSER
if [ -z "$(psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'coop'")" ]; then
    createdb coop
    say "created database coop"
fi

token=$("$coopd" --create-operator-token "$config" --label "demo $(date -u +%FT%TZ)")

"$coopd" "$config" </dev/null >>"$log" 2>&1 &
coopd_pid=$!
echo "$coopd_pid" >"$pid_file"

listen=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["listen"])' "$config")
url=http://$listen
for i in $(seq 1 300); do
    if ! kill -0 "$coopd_pid" 2>/dev/null; then
        tail -n 20 "$log" >&2
        die "coopd exited during start-up (log above, full log in $log)"
    fi
    curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
    [ "$i" -lt 300 ] || die "coopd is not ready after 30 s (log in $log)"
    sleep 0.1
done

python3 scripts/demo_data.py --url "$url" --token "$token"

cat <<EOF

coop demo is running.
  URL:             $url
  operator token:  $token
  try:             curl -H 'Authorization: Bearer $token' $url/v1/plugins
  coopd log:       $log
  database:        PGHOST=$PGHOST PGPORT=$PGPORT psql coop
  Debian's elections:  scripts/load_debian_tally.py --url $url --token $token

Press Ctrl-C to stop coopd and the database (or run scripts/demo.sh stop from another shell).
EOF

# Waiting in the background lets the INT/TERM traps run at once.
set +e
wait "$coopd_pid"
status=$?
set -e
# 0: coopd stopped gracefully (Ctrl-C reaches it too); above 128: this shell was interrupted.
if [ $status -ne 0 ] && [ $status -lt 128 ]; then
    tail -n 20 "$log" >&2
    say "coopd exited with status $status (log above)"
    exit 1
fi
