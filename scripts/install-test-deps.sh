#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: the real servers some tests start
# (redis-server, memcached, openssl's s_server), then npm packages from the lockfile (and, through
# the package's `prepare` step, Node 24 when the system's Node is older than 22.12).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts them as services; the tests start their own on free ports.
  for svc in redis-server memcached; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# The lockfile is complete (every platform's optional packages), so `npm ci` installs exactly it.
# Its `prepare` step (scripts/ensure-node.sh) provides Node >= 22.12 for the npm scripts.
npm ci --no-audit --no-fund
