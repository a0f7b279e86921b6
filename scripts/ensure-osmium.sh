#!/usr/bin/env bash
# The test fixtures, the generated sample region and the benchmark need osmium-tool (the container steps do not:
# they read PBF in TypeScript). Install it when missing, or say how to.
set -euo pipefail
command -v osmium >/dev/null 2>&1 && exit 0
echo "osmium-tool is missing; installing it..." >&2
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq osmium-tool) >&2 && exit 0
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq osmium-tool) >&2 && exit 0
  fi
fi
if command -v brew >/dev/null 2>&1; then
  brew install osmium-tool >&2 && exit 0
fi
echo "error: osmium-tool is required: install it (Debian/Ubuntu: 'sudo apt-get install osmium-tool', macOS: 'brew install osmium-tool') and re-run." >&2
exit 1
