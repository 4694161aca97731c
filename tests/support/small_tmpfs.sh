#!/bin/sh
# Runs a command with DIR mounted as a tmpfs of SIZE, in a private mount namespace (so no root
# privileges are needed where user namespaces are allowed, and nothing outlives the command).
# Once GROW_FILE exists the tmpfs grows to 1 GiB: space returns to a full disk.
# Usage: small_tmpfs.sh SIZE DIR GROW_FILE COMMAND [ARGS...]
set -eu
if [ "${VERITY_IN_NAMESPACE:-}" != 1 ]; then
  VERITY_IN_NAMESPACE=1 exec unshare --map-root-user --mount sh "$0" "$@"
fi
size=$1 dir=$2 grow=$3
shift 3
mkdir -p "$dir"
mount -t tmpfs -o "size=$size" tmpfs "$dir"
main=$$
(
  while [ ! -e "$grow" ]; do
    kill -0 "$main" 2>/dev/null || exit 0
    sleep 0.1
  done
  mount -o remount,size=1g "$dir"
) &
exec "$@"
