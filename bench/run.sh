#!/usr/bin/env bash
# Runs every benchmark program (build/bin/bench_*) and keeps its JSON in
# bench/out/<name>.json. Extra arguments go to every program (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
for b in build/bin/bench_*; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  echo "== $name" >&2
  "$b" --json "$@" > "bench/out/$name.json"
  cat "bench/out/$name.json"
done
