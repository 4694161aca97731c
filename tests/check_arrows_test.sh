#!/usr/bin/env bash
# scripts/check-arrows on a small tree of its own: clean, it passes; each kind of wrong include
# (a module it may not use, a store header outside the consumer's interface, RocksDB outside
# store/, a relative include out of its folder, angle brackets, spaces after '#', a header in a
# subfolder) fails it, naming the file.
set -euo pipefail
script="$(cd "$(dirname "$0")/.." && pwd)/scripts/check-arrows"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
for m in core document ingest store quality query shippers ui; do mkdir -p "$root/$m/src"; done
cat >"$root/query/src/ok.cpp" <<'CPP'
#include "verity/query/search.h"
#include "verity/store/readers.h"
#include <vector>
#include "local.h"
CPP
echo '#include <rocksdb/db.h>' >"$root/store/src/ok.cpp"
"$script" "$root" >/dev/null || { echo "a clean tree failed"; exit 1; }

expect_failure() {  # file, line, what the message must name
  local file=$1 text=$2 name=$3
  printf '%s\n' "$text" >"$root/$file"
  local out
  if out=$("$script" "$root" 2>&1); then
    echo "not caught: $text in $file"
    exit 1
  fi
  grep -qF "$name" <<<"$out" || { echo "the message does not name $name: $out"; exit 1; }
  rm "$root/$file"
}
expect_failure ingest/src/a.cpp '#include "verity/query/search.h"' 'ingest/ may not use query/'
expect_failure shippers/src/a.cpp '#include "verity/store/store.h"' 'not store.h'
expect_failure quality/src/a.cpp '#include <verity/store/readers.h>' 'not readers.h'
expect_failure query/src/a.cpp '#include "rocksdb/db.h"' 'only store/ includes RocksDB'
expect_failure query/src/a.cpp '#  include <rocksdb/options.h>' 'only store/ includes RocksDB'
expect_failure ui/src/a.cpp '#include "../../store/src/store_impl.h"' 'relative include'
expect_failure document/src/a.cpp '#include "verity/ingest/x/y2.h"' 'document/ may not use ingest/'
expect_failure core/src/a.h '#include "verity/document/json_writer.h"' 'core/src/a.h'
rmdir "$root/ui/src" "$root/ui"
if "$script" "$root" >/dev/null 2>&1; then echo "a missing module passed"; exit 1; fi
echo "check-arrows catches every kind of wrong include"
