#!/usr/bin/env bash
# Interoperability with an independent RLPx implementation (trinity's p2p package, Python; see
# Tests/peers/README.md): the independent peer dials a running Stockade daemon (legacy and EIP-8
# auth) and Stockade's `stockade ping` dials the independent peer. Also runs the peer's own
# vector tests. Prints PASS/FAIL lines and "N passed, M failed"; exits non-zero on a failure.
#   STOCKADE_BIN=path/to/stockade  (default: .build/debug/stockade, built if missing)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="${STOCKADE_BIN:-.build/debug/stockade}"
[ -x "$BIN" ] || swift build --product stockade >&2
PY="$(bash ops/peer-venv.sh)" || { echo "FAIL  cannot set up the independent peer's venv"; echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The independent peer's own tests against the published vectors (and itself).
if "$PY" -m unittest discover -s Tests/peers >"$work/peer-tests.log" 2>&1; then pass "independent peer: vector and self tests"
else fail "independent peer: vector and self tests"; tail -20 "$work/peer-tests.log"; fi

# A Stockade daemon on a free loopback port.
timeout 120 "$BIN" run --state-dir "$work/node" --listen 127.0.0.1:0 --control-socket "$work/control.sock" \
  >"$work/node.out" 2>"$work/node.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^enode://' "$work/node.out" 2>/dev/null && grep -q 'ready:' "$work/node.err" && break; sleep 0.1; done
ENODE=$(grep -m1 '^enode://' "$work/node.out" || true)
[ -n "$ENODE" ] || { fail "daemon did not start"; cat "$work/node.err"; echo "$passed passed, $failed failed"; exit 1; }

for auth in legacy eip8; do
  extra=(); [ "$auth" = eip8 ] && extra=(--eip8)
  out=$(timeout 30 "$PY" Tests/peers/rlpx_peer.py ping "$ENODE" --count 3 --caps stk/1 "${extra[@]}" 2>&1)
  if [ $? -eq 0 ] && [ "$(grep -c '"event": "pong"' <<<"$out")" -eq 3 ] && grep -q '"node_id_matches_handshake": true' <<<"$out"; then
    pass "trinity dials stockade ($auth auth): Hello, 3 ping/pong, disconnect"
  else
    fail "trinity dials stockade ($auth auth)"; echo "$out" | tail -5
  fi
done

# The independent peer listens; stockade ping dials it.
KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
timeout 60 "$PY" Tests/peers/rlpx_peer.py listen --key "$KEY" --port 0 --caps stk/1 --max-seconds 45 >"$work/peer.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q '"listening"' "$work/peer.out" 2>/dev/null && break; sleep 0.1; done
PEER=$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["enode"])' "$work/peer.out" 2>/dev/null)
out=$(timeout 30 "$BIN" ping "$PEER" --count 3 2>&1)
if [ $? -eq 0 ] && grep -q 'trinity' <<<"$out" && [ "$(grep -c '^pong' <<<"$out")" -eq 3 ]; then
  pass "stockade ping dials trinity: Hello, 3 ping/pong, disconnect"
else
  fail "stockade ping dials trinity"; echo "$out" | tail -5
fi
sleep 0.5
if grep -q '"event": "disconnect", "reason": 0' "$work/peer.out"; then pass "trinity received Disconnect(requested) from stockade ping"
else fail "trinity did not see Disconnect(requested)"; tail -3 "$work/peer.out"; fi

# A peer without a shared capability is refused with UselessPeer (go-ethereum's addPeerChecks).
out=$(timeout 30 "$PY" Tests/peers/rlpx_peer.py ping "$ENODE" --count 1 2>&1)
if grep -q '"reason": 3' <<<"$out"; then pass "trinity without stk/1 gets Disconnect(useless peer)"
else fail "trinity without stk/1 was not refused with useless peer"; echo "$out" | tail -3; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
