#!/usr/bin/env bash
# Runs as the package's `prepare` step (after `npm ci` / `npm install` in this repository; never
# in a consumer's install). The tests and examples need Node >= 22.12 (vitest 5, Effect 4's
# platform packages). When the `node` on PATH is older, this fetches a pinned Node 24 LTS from
# the npm registry (the package node-linux-<arch> ships the binary inside its tarball; no
# install script runs), checks the tarball against the integrity pinned below, unpacks it into
# the git-ignored .node/ folder, and links it as node_modules/.bin/node, which `npm run` and
# `npx` put first on PATH. Where Node >= 22.12 is already present, nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

version="24.22.3"
declare -A integrity=(
  [x64]="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
  [arm64]="sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=="
)

recent_enough() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; }

system_node="$(command -v node || true)"
if [ -n "$system_node" ] && [ "$system_node" != "$PWD/node_modules/.bin/node" ] && recent_enough "$system_node"; then
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) arch=x64 ;;
  Linux/aarch64 | Linux/arm64) arch=arm64 ;;
  *) echo "ensure-node: Node >= 22.12 is needed and none can be fetched for $(uname -sm); install one" >&2; exit 1 ;;
esac

home=".node/$version-$arch"
if [ ! -x "$home/bin/node" ]; then
  echo "ensure-node: the system's node is older than 22.12; fetching Node $version ($arch) from the npm registry"
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  tarball="$(npm pack "node-linux-$arch@$version" --pack-destination "$scratch" --silent)"
  actual="$(node -e 'const c = require("node:crypto"), fs = require("node:fs"); console.log("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$scratch/$tarball")"
  if [ "$actual" != "${integrity[$arch]}" ]; then
    echo "ensure-node: integrity mismatch for node-linux-$arch@$version: $actual" >&2
    exit 1
  fi
  mkdir -p "$scratch/unpacked"
  tar -xzf "$scratch/$tarball" -C "$scratch/unpacked"
  mkdir -p .node
  rm -rf "$home"
  mv "$scratch/unpacked/package" "$home"
fi

mkdir -p node_modules/.bin
ln -sf "../../$home/bin/node" node_modules/.bin/node
echo "ensure-node: npm scripts run on $(node_modules/.bin/node --version) (node_modules/.bin/node)"
