#!/bin/sh
# promtool test rules on the shipped alert rules; exit 77 (CTest: skipped)
# when promtool is missing (Debian package "prometheus", scripts/deps.sh test).
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not installed (apt-get install prometheus, or scripts/deps.sh test)"
  exit 77
fi
set -e
promtool check rules "$1/configs/prometheus/alerts.yml"
promtool test rules "$1/tests/configs/alerts.test.yml"
