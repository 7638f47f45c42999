#!/bin/bash
# The container image's HEALTHCHECK: GET /health/live on the address herald listens on
# (HERALD_LISTEN), through bash's /dev/tcp, because the image carries no HTTP client
# (docs/adr/0021-container-image.md). Exits 0 on a 200 answer, non-zero otherwise; Docker's
# --timeout bounds a listener that accepts and never answers.
set -euo pipefail

listen=${HERALD_LISTEN:-0.0.0.0:8080}
host=${listen%:*}
port=${listen##*:}
case $host in
  0.0.0.0 | '') host=127.0.0.1 ;; # listening on every address: ask over loopback
  '[::]') host=::1 ;;
  \[*\]) host=${host:1:-1} ;; # an IPv6 address without its brackets
esac

exec 3<>"/dev/tcp/$host/$port"
printf 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r _version status _reason <&3
# Read the answer to its end, so that herald closes a finished exchange, not a reset one.
while read -r _ <&3; do :; done
[[ ${status%$'\r'} == 200 ]]
