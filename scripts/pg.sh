#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, kept in one folder.
#
#   scripts/pg.sh start  [DIR] [PORT]   create the cluster if needed and start it (idempotent)
#   scripts/pg.sh stop   [DIR]          stop it (idempotent)
#   scripts/pg.sh status [DIR]          say whether it runs; exit 0 if it does, 3 if not
#   scripts/pg.sh env    [DIR]          print the PGHOST/PGPORT/PGUSER exports that reach it
#
# DIR defaults to .pgdata in the checkout (git-ignored). Inside it: data/ (PGDATA), the Unix
# socket, server.log, and port and user files that remember how to reach the cluster. The server
# listens on the socket in DIR and on 127.0.0.1:PORT (a free port is chosen on first start and
# kept). Authentication is "trust" for the cluster's own superuser, named after the user who ran
# start: this cluster is for one developer's machine, never for production.
#
# initdb and postgres refuse to run as root, so as root they run as the "postgres" user, who then
# owns DIR. Set COOP_PG_FAST=1 to trade durability for speed (fsync off), as the tests do.
set -euo pipefail

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/pg.sh start|stop|status|env [DIR] [PORT]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
command=$1
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${2:-$checkout/.pgdata}
requested_port=${3:-}

case "$command" in
start | stop | status | env) ;;
*) usage ;;
esac

if [ -n "$requested_port" ] && ! [[ "$requested_port" =~ ^[0-9]+$ ]]; then
    die "PORT must be a number, got '$requested_port'"
fi

find_bindir() {
    local candidate
    if command -v pg_config >/dev/null 2>&1; then
        candidate=$(pg_config --bindir 2>/dev/null || true)
        if [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return
        fi
    fi
    # Debian keeps the server binaries out of PATH; take the newest installed major version.
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return
        fi
    done
    die "no PostgreSQL server binaries found (initdb); run scripts/deps.sh"
}

as_root=false
[ "$(id -u)" -eq 0 ] && as_root=true

# Runs a PostgreSQL program as the cluster's owner, from / so that a working directory the owner
# cannot enter does not matter.
as_owner() {
    if $as_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Only start creates DIR; the other commands find nothing to do in a folder that is not there.
[ "$command" = start ] && mkdir -p "$dir"
[ -d "$dir" ] && dir=$(cd "$dir" && pwd -P)
data=$dir/data
log=$dir/server.log

check_owner_can_reach_dir() {
    $as_root || return 0
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install postgresql)"
    local path=$dir parents=()
    while [ "$path" != "/" ]; do
        path=$(dirname "$path")
        parents=("$path" "${parents[@]}")
    done
    for path in "${parents[@]}"; do
        if ! runuser -u postgres -- test -x "$path"; then
            die "user postgres cannot enter $path (needed for $dir); run 'chmod o+x $path' or choose a DIR elsewhere"
        fi
    done
}

is_running() {
    [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

write_settings() {
    local port=$1 quoted_dir=${dir//\'/\'\'}
    {
        echo "# Written by scripts/pg.sh at each start; edits here are lost."
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$quoted_dir'"
        echo "max_connections = 200"
        if [ "${COOP_PG_FAST:-0}" = 1 ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >"$data/coop.conf"
    $as_root && chown postgres: "$data/coop.conf"
    return 0
}

initialize() {
    local user
    user=$(id -un)
    $as_root && chown postgres: "$dir"
    chmod 700 "$dir"
    if ! as_owner "$bindir/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed for $data (output above, also in $dir/initdb.log)"
    fi
    echo "include_if_exists = 'coop.conf'" >>"$data/postgresql.conf"
    echo "$user" >"$dir/user"
}

start() {
    check_owner_can_reach_dir
    [ -f "$data/PG_VERSION" ] || initialize
    local port
    if is_running; then
        port=$(cat "$dir/port")
        if [ -n "$requested_port" ] && [ "$requested_port" != "$port" ]; then
            die "the cluster in $dir already runs on port $port, not $requested_port; stop it first"
        fi
        echo "pg.sh: already running: $dir, port $port" >&2
        return
    fi
    if [ -n "$requested_port" ]; then
        port=$requested_port
    elif [ -f "$dir/port" ]; then
        port=$(cat "$dir/port")
    else
        port=$(free_port)
    fi
    # sun_path holds 108 bytes with the terminating NUL; PostgreSQL refuses longer socket paths.
    local socket=$dir/.s.PGSQL.$port
    if [ ${#socket} -gt 107 ]; then
        die "socket path $socket is longer than 107 bytes; choose a shorter DIR"
    fi
    write_settings "$port"
    echo "$port" >"$dir/port"
    if ! as_owner "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null 2>&1; then
        tail -n 20 "$log" >&2 || true
        die "PostgreSQL did not start on port $port (log above, full log in $log)"
    fi
    echo "pg.sh: running: $dir, port $port" >&2
}

stop() {
    if is_running; then
        as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
        echo "pg.sh: stopped: $dir" >&2
    fi
}

status() {
    if is_running; then
        echo "running: $dir, port $(cat "$dir/port")"
    else
        echo "stopped: $dir"
        exit 3
    fi
}

print_env() {
    [ -f "$dir/port" ] && [ -f "$dir/user" ] || die "no cluster in $dir; run scripts/pg.sh start first"
    printf "export PGHOST=%q\n" "$dir"
    printf "export PGPORT=%q\n" "$(cat "$dir/port")"
    printf "export PGUSER=%q\n" "$(cat "$dir/user")"
}

bindir=$(find_bindir)
case "$command" in
start) start ;;
stop) stop ;;
status) status ;;
env) print_env ;;
esac
