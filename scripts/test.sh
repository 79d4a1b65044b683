#!/usr/bin/env bash
# Command (b): runs every test. Installs missing Debian packages, builds in build/ (warnings are
# errors) and runs the whole ctest suite (unit tests, integration tests against a real PostgreSQL
# and coopd), then builds in build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the whole suite again. Stops at the first phase that fails; exits non-zero on any failure.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    skip the sanitizer build, for a faster loop while developing
#
# The tests get a private PostgreSQL cluster of their own (.pgdata-test, created anew for each run
# and stopped at exit) through COOP_TEST_PGHOST / COOP_TEST_PGPORT / COOP_TEST_PGUSER.
set -euo pipefail

sanitize=true
case "${1:-}" in
"") ;;
--quick) sanitize=false ;;
*)
    echo "usage: scripts/test.sh [--quick]" >&2
    exit 2
    ;;
esac

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$checkout"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh

# As root the cluster runs as user postgres, who must be able to reach its folder. A checkout
# under a private home (e.g. /root) is out of its reach, and a long path would overflow the Unix
# socket name: then the cluster goes to a temporary folder instead.
pgdir=$checkout/.pgdata-test
pgdir_is_temporary=false
if { [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$checkout"; } ||
    [ ${#pgdir} -gt 90 ]; then
    pgdir=$(mktemp -d -p /tmp)
    pgdir_is_temporary=true
fi

stop_cluster() {
    bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
    if $pgdir_is_temporary; then rm -rf "$pgdir"; fi
}
trap stop_cluster EXIT
bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
rm -rf "$pgdir"
COOP_PG_FAST=1 bash scripts/pg.sh start "$pgdir"
export COOP_TEST_PGHOST=$pgdir
COOP_TEST_PGPORT=$(cat "$pgdir/port")
COOP_TEST_PGUSER=$(cat "$pgdir/user")
export COOP_TEST_PGPORT COOP_TEST_PGUSER

# Sanitizer reports must fail the test that triggered them, with a stack to read.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The integration tests run on Debian's python3 (which deps.sh guarantees), not on whichever
# python3 comes first in PATH (pyenv and the like), so every machine runs them alike.
python=()
[ -x /usr/bin/python3 ] && python=(-DPython3_EXECUTABLE=/usr/bin/python3)

# Runs one build-and-test phase: configure, build, then the whole suite.
run_phase() {
    local build_dir=$1
    shift
    echo "== $build_dir: configure and build" >&2
    cmake -S . -B "$build_dir" -DCMAKE_C_FLAGS=-Werror "${python[@]}" "$@" >/dev/null
    cmake --build "$build_dir" -j "$jobs"
    echo "== $build_dir: ctest" >&2
    (cd "$build_dir" && ctest --output-on-failure --timeout 600 -j "$jobs")
}

if $sanitize; then
    run_phase build
    run_phase build-asan -DCOOP_SANITIZE=ON
else
    run_phase build
fi
