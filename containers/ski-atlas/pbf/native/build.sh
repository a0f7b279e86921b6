#!/bin/sh
# Builds the compiled PBF core (a Node-API addon in C, linked with libdeflate) for Linux:
#   sh containers/ski-atlas/pbf/native/build.sh [--arch x64|arm64] [--if-stale] [--optional] [--fuzz]
# → containers/ski-atlas/pbf/native/build/pbf_core.linux-<arch>.node, which pbf/native-core.ts loads.
# Run by `npm install` / `npm ci` (the project's "prepare" script), `npm test` (scripts/ensure-native.sh), the
# image's compile stage (containers/Dockerfile, natively for linux/arm64) and the ARM64 rehearsal (--arch arm64
# on x86_64: aarch64-linux-gnu-gcc, with Debian's arm64 libdeflate fetched by apt into a cache folder, never
# installed). No node-gyp and no download of headers: Node-API's headers come with Node itself (the project's
# `node` devDependency, or the Node of the image), and they are the same for every architecture.
# --if-stale: only when the addon is missing or older than its sources. --optional (npm install): when a tool is
# missing, one warning line and exit 0 (the extract then uses the TypeScript reader; npm test and CI install what
# is missing: scripts/ensure-native.sh). --fuzz: also the fuzz harness, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build/fuzz-pbf-core; see fuzz.c).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
arch=""
if_stale=0
optional=0
fuzz=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --if-stale) if_stale=1; shift ;;
    --optional) optional=1; shift ;;
    --fuzz) fuzz=1; shift ;;
    *) echo "error: unknown option $1 (use --arch x64|arm64, --if-stale, --optional, --fuzz)" >&2; exit 64 ;;
  esac
done
case "$(uname -m)" in
  x86_64) host=x64 ;;
  aarch64 | arm64) host=arm64 ;;
  *) host=$(uname -m) ;;
esac
# ATLAS_NATIVE_ARCH: the architecture when --arch is not given (the ARM64 rehearsal replays the image's build
# command, which has no --arch, for arm64).
arch=${arch:-${ATLAS_NATIVE_ARCH:-$host}}
case "$arch" in
  x64) triplet=x86_64-linux-gnu; debarch=amd64 ;;
  arm64) triplet=aarch64-linux-gnu; debarch=arm64 ;;
  *) echo "error: the PBF core builds for x64 or arm64, not '$arch'" >&2; exit 64 ;;
esac
if [ "$arch" = "$host" ]; then cc=${CC:-gcc}; else cc=${CC:-$triplet-gcc}; fi
# A missing tool: an error, or with --optional a warning (exit 0).
missing() {
  if [ "$optional" = 1 ]; then
    echo "warning: the compiled PBF core was not built ($1); the extract will use the TypeScript reader: run bash scripts/ensure-native.sh" >&2
    exit 0
  fi
  echo "error: $1" >&2
  exit 69
}
out="$here/build/pbf_core.linux-$arch.node"
sources="$here/pbf_core.c $here/pbf_core.h $here/pbf_addon.c $here/build.sh"

if [ "$if_stale" = 1 ] && [ -f "$out" ] && [ "$fuzz" = 0 ]; then
  stale=0
  for s in $sources; do [ "$s" -nt "$out" ] && stale=1; done
  [ "$stale" = 0 ] && exit 0
fi

if [ "$arch" = "$host" ]; then pkg=gcc; else pkg=gcc-$triplet; fi
command -v "$cc" >/dev/null 2>&1 || missing "$cc is missing: install it (Debian: sudo apt-get install $pkg) or run bash scripts/ensure-native.sh"

# Node-API's headers: next to the running Node (a Node install or the image's), else the project's `node`
# devDependency (node-linux-<arch>/include/node), else Debian's.
headers=""
node_bin=$(command -v node 2>/dev/null || true)
for dir in ${NODE_API_HEADERS:-} \
  "$(dirname "$(dirname "$(readlink -f "${node_bin:-/nonexistent}")")")/include/node" \
  "$root"/node_modules/node/node_modules/node-linux-*/include/node /usr/local/include/node /usr/include/node; do
  if [ -f "$dir/node_api.h" ]; then headers=$dir; break; fi
done
[ -n "$headers" ] || missing "Node-API's headers (node_api.h) are missing: run npm ci (the project's node package has them) or set NODE_API_HEADERS"

# libdeflate, linked statically into the addon: Debian's libdeflate-dev for this architecture (LIBDEFLATE_A: the
# static library to use instead). Cross-compiling, Debian's package for that architecture is downloaded (apt-get
# download with lists of its own, into .data/cache/; nothing is installed on the system) unless it is installed.
libdeflate_a=""
libdeflate_inc=/usr/include
for a in ${LIBDEFLATE_A:-} "/usr/lib/$triplet/libdeflate.a"; do
  if [ -f "$a" ]; then libdeflate_a=$a; break; fi
done
if [ -z "$libdeflate_a" ] && [ "$arch" != "$host" ]; then
  cache="$root/.data/cache/libdeflate-$debarch"
  libdeflate_a="$cache/usr/lib/$triplet/libdeflate.a"
  libdeflate_inc="$cache/usr/include"
  if [ ! -f "$libdeflate_a" ]; then
    apt=$(mktemp -d)
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache"
    opts="-o APT::Architectures::=$debarch -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o Debug::NoLocking=1 -qq"
    # shellcheck disable=SC2086
    (apt-get $opts update && cd "$apt" && apt-get $opts download "libdeflate-dev:$debarch") >&2 2>/dev/null \
      || { rm -rf "$apt"; missing "could not download Debian's libdeflate-dev:$debarch (apt-get download): check the network, or set LIBDEFLATE_A"; }
    dpkg-deb -x "$apt"/libdeflate-dev_*_"$debarch".deb "$cache"
    rm -rf "$apt"
  fi
fi
[ -f "$libdeflate_a" ] || missing "libdeflate is missing: install it (Debian: sudo apt-get install libdeflate-dev) or run bash scripts/ensure-native.sh"

mkdir -p "$here/build"
# -ffp-contract=off: no fused multiply-add, so coordinates round exactly as in JavaScript (pbf_core.c).
cflags="-std=gnu11 -O2 -Wall -Wextra -ffp-contract=off -fno-strict-aliasing"
tmp="$out.tmp.$$"
# shellcheck disable=SC2086
"$cc" $cflags -shared -fPIC -fvisibility=hidden -I"$headers" -I"$libdeflate_inc" \
  -o "$tmp" "$here/pbf_core.c" "$here/pbf_addon.c" "$libdeflate_a" -lm -Wl,--exclude-libs,ALL
mv "$tmp" "$out"
echo "built $(echo "$out" | sed "s|^$root/||") ($arch, libdeflate $(sed -n 's/^#define LIBDEFLATE_VERSION_STRING[^"]*"\(.*\)".*/\1/p' "$libdeflate_inc/libdeflate.h"))" >&2

if [ "$fuzz" = 1 ]; then
  # shellcheck disable=SC2086
  "$cc" $cflags -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -I"$libdeflate_inc" \
    -o "$here/build/fuzz-pbf-core" "$here/fuzz.c" "$here/pbf_core.c" "$libdeflate_a" -lm
  echo "built $(echo "$here/build/fuzz-pbf-core" | sed "s|^$root/||") (AddressSanitizer, UndefinedBehaviorSanitizer)" >&2
fi
