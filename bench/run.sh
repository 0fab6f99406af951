#!/usr/bin/env bash
# Runs the whole benchmark suite and keeps each program's JSON in
# bench/out/<name>.json: every C program build/bin/bench_* and the scripts
# that drive servers as processes (bench/*.py). Extra arguments (e.g.
# --quick, --runs N) go to every program that takes them.
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
for s in bench/net_echo.py bench/http_agentd.py bench/http_metrics.py bench/http_pprof.py \
         bench/http_steal.py bench/cluster_proxy.py; do
  name=$(basename "$s" .py)
  echo "== $name" >&2
  python3 "$s" --json "$@" > "bench/out/$name.json"
  cat "bench/out/$name.json"
done
echo "== net_idle" >&2
python3 bench/net_idle.py --json > bench/out/net_idle.json
cat bench/out/net_idle.json
