#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: npm packages from the lockfile,
# and the real servers some tests start (redis-server, memcached, openssl's s_server).
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

# npm 11 writes lockfiles without other platforms' optional packages (rollup, esbuild binaries)
# and then its own `npm ci` refuses them as out of sync; `npm install` keeps every locked version.
if ! npm ci --no-audit --no-fund; then
  echo "npm ci refused the lockfile; installing the locked versions with npm install"
  npm install --no-audit --no-fund
fi
