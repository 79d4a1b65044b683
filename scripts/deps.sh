#!/usr/bin/env bash
# Installs the Debian 12 packages coop needs to build, test, run the demo and the benchmark.
# Only what is missing is installed, so a machine that has everything is left untouched and
# the script finishes in well under a second (it runs at the start of every demo and test run).
set -euo pipefail

packages=(
    build-essential gcc cmake pkg-config # compiler and build system
    libevent-dev libjansson-dev libpq-dev libssl-dev # coopd's libraries
    postgresql # the server (15 on Debian 12) for the demo and the integration tests
    python3 # integration tests and demo data loader (standard library only)
    wrk curl # bench/ and health checks
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: install them as root, then run this command again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
