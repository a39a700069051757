#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every decoder that reads untrusted
# bytes: RLP, the handshake reader, the frame decoder, message/Hello decoding, snappy, IPC frames,
# the whole connection setup, Mux.Cool frames and the mux session link, the SOCKS5 server handshake (Sources/FuzzTargets).
#   ops/fuzz.sh                 each target for FUZZ_SECONDS (default 60)
#   ops/fuzz.sh frame ipc       only these targets
# Corpora live in fuzz-corpus/<target> (ignored by git); crashes are written there too.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
SCRATCH=.build-fuzz
swift build -c release --scratch-path "$SCRATCH" --product StockadeFuzz \
  -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >&2
BIN="$SCRATCH/release/StockadeFuzz"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rlp handshake frame message snappy ipc setup mux-frames mux-link socks5)
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz-corpus/$t"
  echo "== fuzzing $t for ${SECONDS_PER_TARGET}s" >&2
  if ! SWIFT_BACKTRACE=enable=no STOCKADE_FUZZ_TARGET="$t" "$BIN" "fuzz-corpus/$t" \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -artifact_prefix="fuzz-corpus/$t/" -print_final_stats=1 2>"fuzz-corpus/$t.log"; then
    echo "FAIL  $t: see fuzz-corpus/$t.log" >&2
    status=1
  else
    echo "PASS  $t: $(grep -E 'stat::number_of_executed_units' "fuzz-corpus/$t.log" | awk '{print $2}') executions" >&2
  fi
done
exit $status
