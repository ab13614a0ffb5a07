#!/bin/sh
# deps.sh — make sure the Debian packages hyc builds with are installed.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run.  Quiet when everything is present.
set -e
LLVM_PKG=${LLVM_PKG:-llvm-19-dev}
need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in make gcc flex bison check pkg-config "$LLVM_PKG" clang valgrind python3; do
    have_pkg "$p" || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
else
    echo "deps: missing Debian packages:$need" >&2
    echo "deps: run:  sudo apt-get install -y$need" >&2
    exit 1
fi
