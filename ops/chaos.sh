#!/usr/bin/env bash
# The chaos suite (issue 9): a real daemon on 127.0.0.1 with live peers, under a handshake
# flood, random kill -9 of workers and the acceptor, SIGSTOP of every role, hostile inputs
# (malformed handshakes, silent connections, a Ping flood) and slow control and metrics clients;
# then: live peers kept, descriptors and RSS back near baseline, no zombies, the supervisor up,
# every drop accounted for in `stockade events`. Prints a table; exits non-zero on any FAIL.
#
#   ops/chaos.sh          the short run (20 s of chaos, under a minute in all), as ops/test.sh runs it
#   ops/chaos.sh --long   the operators' run (240 s of chaos, 20 live peers)
#   ops/chaos.sh --seconds N
#
# Loopback only, bounded in time; the work is Tests/DaemonTests/ChaosTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --long) seconds=240 ;;
    --seconds) seconds="$2"; shift ;;
    *) echo "usage: $0 [--long | --seconds N]" >&2; exit 2 ;;
  esac
  shift
done

[ -x .build/debug/stockade ] || swift build --build-tests >&2
table=$(mktemp /tmp/stockade-chaos.XXXXXX)
trap 'rm -f "$table"' EXIT
status=0
STOCKADE_CHAOS_SECONDS="$seconds" STOCKADE_CHAOS_TABLE="$table" \
  timeout $((seconds + 240)) swift test --skip-build --filter 'DaemonTests.ChaosTests' >/tmp/stockade-chaos.log 2>&1 || status=$?
if [ -s "$table" ]; then cat "$table"; else tail -50 /tmp/stockade-chaos.log; fi
if [ "$status" != 0 ]; then
  echo "chaos suite FAILED (exit $status); full log: /tmp/stockade-chaos.log" >&2
  grep -E 'error:' /tmp/stockade-chaos.log | head -20 >&2 || true
  exit 1
fi
echo "chaos suite passed"
