#!/usr/bin/env bash
# Transport benchmarks, release build: Keccak-256 against OpenSSL's sha3-256 (same Keccak-f
# permutation and rate, OpenSSL's assembly), then StockadeBench's own sections (secp256k1
# operation costs, responder handshake CPU time, frame throughput).
#
#   ops/bench/transport.sh            five runs, wall-clock throughput
#   RUNS=9 ops/bench/transport.sh     more runs for a steadier median
#   BENCH_CLOCK=cpu ...               time throughput on CPU time (ours: CLOCK_PROCESS_CPUTIME_ID;
#                                     OpenSSL: `openssl speed` without -elapsed), steadier when
#                                     other work shares the machine
#   SCRATCH_PATH=.build-x ...         swift build --scratch-path (default: .build)
#
# The Keccak section interleaves OpenSSL and Stockade runs so that both see the same load,
# and reports medians over runs. Every figure is a median; the range shows the noise.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS="${RUNS:-5}"
BENCH_CLOCK="${BENCH_CLOCK:-wall}"
SCRATCH_PATH="${SCRATCH_PATH:-.build}"
# Seconds OpenSSL spends per block size per run: its own default is 3; one keeps a 5-run
# benchmark near a minute and still covers hundreds of 1 MiB digests.
OPENSSL_SECONDS="${OPENSSL_SECONDS:-1}"
# openssl speed's 1 KiB and 16 KiB block sizes, and 1 MiB for bulk data: the sizes
# StockadeBench's Keccak section measures (Sources/StockadeBench/KeccakBench.swift).
SIZES="1024 16384 1048576"

case "$BENCH_CLOCK" in
  wall) openssl_clock=(-elapsed) ;;
  cpu) openssl_clock=() ;;
  *) echo "BENCH_CLOCK must be wall or cpu" >&2; exit 2 ;;
esac
case "$RUNS" in
  ''|*[!0-9]*) echo "RUNS must be a positive integer" >&2; exit 2 ;;
esac
[ "$RUNS" -ge 1 ] || { echo "RUNS must be at least 1" >&2; exit 2; }

echo "== swift build -c release --product StockadeBench" >&2
swift build -c release --scratch-path "$SCRATCH_PATH" --product StockadeBench >&2
bench="$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/StockadeBench"

samples="$(mktemp)"
trap 'rm -f "$samples"' EXIT

have_openssl=1
command -v openssl >/dev/null 2>&1 || have_openssl=0

# --- a. Keccak-256 vs OpenSSL sha3-256 ---------------------------------------------------
echo "== Keccak-256: $RUNS interleaved runs (clock: $BENCH_CLOCK)" >&2
for run in $(seq 1 "$RUNS"); do
  echo "   run $run/$RUNS" >&2
  if [ "$have_openssl" = 1 ]; then
    for size in $SIZES; do
      # -mr prints "+F:<n>:sha3-256:<bytes per second>" for the one block size asked for.
      openssl speed "${openssl_clock[@]}" -evp sha3-256 -bytes "$size" -seconds "$OPENSSL_SECONDS" -mr 2>/dev/null \
        | awk -F: -v size="$size" '$1 == "+F" { printf "openssl %d %.2f\n", size, $4 / 1e6 }' >> "$samples"
    done
  fi
  "$bench" --runs 1 --machine --throughput-clock "$BENCH_CLOCK" keccak \
    | awk '$1 == "keccak256" {
             for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
             printf "stockade %d %s\n", v["bytes"], v["MBps"]
           }' >> "$samples"
done

# median and range of one (implementation, size) column of the samples file
stats() {
  awk -v impl="$1" -v size="$2" '$1 == impl && $2 == size { print $3 }' "$samples" | sort -g \
    | awk '{ v[NR] = $1 } END {
             if (NR == 0) { print "- - -"; exit }
             m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
             printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
           }'
}

echo
echo "a. Keccak-256 throughput vs OpenSSL sha3-256 ($BENCH_CLOCK time, MB/s, median of $RUNS runs; goal: ratio >= 0.90)"
printf "  %-8s  %-24s  %-24s  %s\n" "input" "Stockade keccak256" "OpenSSL sha3-256" "ratio"
for size in $SIZES; do
  read -r ours ours_lo ours_hi <<< "$(stats stockade "$size")"
  read -r theirs theirs_lo theirs_hi <<< "$(stats openssl "$size")"
  case "$size" in
    1024) label="1 KiB" ;; 16384) label="16 KiB" ;; 1048576) label="1 MiB" ;; *) label="$size B" ;;
  esac
  if [ "$theirs" = "-" ]; then
    ratio="n/a (openssl not found)"
  else
    ratio="$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.3f", a / b }')"
  fi
  printf "  %-8s  %-24s  %-24s  %s\n" "$label" \
    "$ours [$ours_lo, $ours_hi]" "$theirs [$theirs_lo, $theirs_hi]" "$ratio"
done

# --- b, c, d: StockadeBench's own sections -----------------------------------------------
"$bench" --runs "$RUNS" --throughput-clock "$BENCH_CLOCK" secp256k1 handshake frame
