#!/usr/bin/env bash
# The console's browser tests (cli/console.test.ts) drive Debian's headless Chromium through puppeteer-core, which
# never downloads a browser of its own. Install it when missing (Debian/Ubuntu, as root or with passwordless sudo),
# or say how to.
set -euo pipefail
[ -x "${ATLAS_CHROMIUM:-/usr/bin/chromium}" ] && exit 0
echo "chromium is missing; installing it for the browser tests..." >&2
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 && exit 0
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 && exit 0
  fi
fi
echo "error: the browser tests need Chromium at /usr/bin/chromium (Debian/Ubuntu: 'sudo apt-get install chromium'), or set ATLAS_CHROMIUM to its path, and re-run." >&2
exit 1
