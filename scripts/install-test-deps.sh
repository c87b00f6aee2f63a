#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: the real servers some tests start
# (redis-server, memcached, openssl's s_server, nginx with lua-nginx-module), then npm packages from
# the lockfile (and, through the package's `prepare` step, Node 24 when the system's Node is older
# than 22.12).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The differential test runs OpenResty's cosockets in Debian's nginx with lua-nginx-module.
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || need+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need+=(libnginx-mod-http-lua)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The tests start their own servers on free ports: keep Debian from starting the packages'
  # services during the install (a service that cannot start, say nginx with port 80 taken, would
  # fail the install), with a policy-rc.d that refuses them when the machine has none.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Where services did start anyway, stop them.
  for svc in redis-server memcached nginx; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# The lockfile is complete (every platform's optional packages), so `npm ci` installs exactly it.
# Its `prepare` step (scripts/ensure-node.sh) provides Node >= 22.12 for the npm scripts.
npm ci --no-audit --no-fund
