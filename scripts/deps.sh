#!/usr/bin/env bash
# Installs the Debian 12 packages agentcore needs, only those missing.
#   scripts/deps.sh build   compiler, CMake and the libraries the code links
#   scripts/deps.sh test    build + what the tests drive (curl, wrk, redis)
#   scripts/deps.sh bench   test + the baselines the benchmarks compare with
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config liburing-dev libnuma-dev libcriterion-dev
            libjansson-dev libyaml-dev libhttp-parser-dev libhiredis-dev nettle-dev
            libgoogle-perftools-dev libsystemd-dev libseccomp-dev)
# What the tests drive: real clients and servers (curl, wrk, nc, redis),
# promtool (prometheus), pprof (google-perftools), headless chromium, clang
# for the consumer and fuzz builds.
test_pkgs=(curl wrk netcat-openbsd redis-server prometheus google-perftools
           chromium clang libclang-rt-14-dev python3)
bench_pkgs=(libjemalloc-dev libmimalloc-dev nginx-light golang-go strace numactl
            gnuplot-nox)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps package scripts from starting services (nginx, redis):
# tests and benchmarks start their own instances on ports they choose.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.agentcore
chmod +x /usr/sbin/policy-rc.d.agentcore
if [ ! -e /usr/sbin/policy-rc.d ]; then
  ln -s /usr/sbin/policy-rc.d.agentcore /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.agentcore' EXIT
else
  trap 'rm -f /usr/sbin/policy-rc.d.agentcore' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
