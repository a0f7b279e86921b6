#!/usr/bin/env bash
# The compiled PBF core (containers/ski-atlas/pbf/native/) needs gcc and libdeflate (Debian: gcc, libdeflate-dev);
# with --arm64, its ARM64 rehearsal also needs the cross-compiler and qemu-user (gcc-aarch64-linux-gnu,
# qemu-user-static). Installs what is missing (Debian/Ubuntu, as root or with passwordless sudo), or says how to,
# then builds the core for this machine (and with --arm64 for arm64) when it is missing or older than its sources
# (npm test runs this; npm ci builds it too).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f "/usr/include/libdeflate.h" ] || missing+=(libdeflate-dev)
if [ "${1:-}" = "--arm64" ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
  # Headers and start files to link for arm64, and the C++ runtime ARM64 Node needs under qemu (-L /usr/aarch64-linux-gnu).
  [ -f /usr/aarch64-linux-gnu/lib/crti.o ] || missing+=(libc6-dev-arm64-cross)
  [ -f /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || missing+=(libstdc++6-arm64-cross)
  command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "${missing[*]} missing; installing for the compiled PBF core..." >&2
  installed=0
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 && installed=1
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      (sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 && installed=1
    fi
  fi
  if [ "$installed" = 0 ]; then
    echo "error: the compiled PBF core needs ${missing[*]} (Debian/Ubuntu: 'sudo apt-get install ${missing[*]}'): install them and re-run." >&2
    exit 1
  fi
fi
sh containers/ski-atlas/pbf/native/build.sh --if-stale
# The ARM64 build too (it fetches Debian's arm64 libdeflate into .data/cache/ once).
if [ "${1:-}" = "--arm64" ]; then sh containers/ski-atlas/pbf/native/build.sh --arch arm64 --if-stale; fi
