#!/usr/bin/env bash
# Interoperability with an independent RLPx implementation (trinity's p2p package, Python; see
# Tests/peers/README.md): the independent peer dials a running Stockade daemon (legacy and EIP-8
# auth) and Stockade's `stockade ping` dials the independent peer. Also runs the peer's own
# vector tests. Then the mux (ipc/MUX.md) with the peer's own Mux.Cool codec (Tests/peers/
# muxcool.py, written from MUX.md only): MUX.md's golden frames, a session life on an echo
# service, an allowlist refusal (0x02), a Keep for an unknown session (0x84), data past the
# window to a target that does not read (0x83), and stk messages sent right after Hello.
# Prints PASS/FAIL lines and "N passed, M failed"; exits non-zero on a failure.
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

# The mux checks' targets on 127.0.0.1, both on free ports: an echo server (echoes, and
# half-closes its side when the other side has) and a server that accepts and never reads (a
# 4 KiB receive buffer, so the kernel absorbs little of what the exit writes to it).
cat >"$work/targets.py" <<'PYEOF'
import asyncio, json, socket, sys

async def main(seconds):
    async def echo(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.write_eof()
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
    echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    stall = socket.socket()
    stall.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stall.bind(("127.0.0.1", 0))
    stall.listen(16)
    stall.setblocking(False)
    held = []
    async def hold():
        loop = asyncio.get_running_loop()
        while len(held) < 64:
            held.append((await loop.sock_accept(stall))[0])
    asyncio.ensure_future(hold())
    print(json.dumps({"echo": echo_server.sockets[0].getsockname()[1],
                      "stall": stall.getsockname()[1]}), flush=True)
    await asyncio.sleep(seconds)

asyncio.run(main(float(sys.argv[1])))
PYEOF
timeout 250 "$PY" "$work/targets.py" 240 >"$work/targets.out" 2>"$work/targets.err" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/targets.out" ] && break; sleep 0.1; done
ECHO_PORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["echo"])' "$work/targets.out" 2>/dev/null)
STALL_PORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stall"])' "$work/targets.out" 2>/dev/null)

# The mux peer's key first: the exit's [[allow]] names its node ID (the uncompressed public key
# without 0x04, as enode URLs show it). `secret` exists but is not allowed to it.
MUX_KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
MUX_ID=$("$PY" -W ignore Tests/peers/rlpx_peer.py nodeid --key "$MUX_KEY")
cat >"$work/exit.toml" <<EOF
[services]
echo = "127.0.0.1:${ECHO_PORT:-1}"
stall = "127.0.0.1:${STALL_PORT:-1}"
secret = "127.0.0.1:${ECHO_PORT:-1}"

[[allow]]
peers = ["$MUX_ID"]
targets = ["echo", "stall"]
EOF

# A Stockade daemon on a free loopback port, the exit for the mux checks.
timeout 240 "$BIN" run --config "$work/exit.toml" --state-dir "$work/node" --listen 127.0.0.1:0 \
  --control-socket "$work/control.sock" >"$work/node.out" 2>"$work/node.err" &
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

# --- mux (stk/1), with the independent codec ---------------------------------------------------
if "$PY" -m unittest discover -s Tests/peers -p 'test_rlpx_peer.py' -k MuxCodecTests >"$work/mux-golden.log" 2>&1; then
  pass "mux: every golden frame of ipc/MUX.md decodes to its value and encodes byte for byte (independent codec)"
else fail "mux: golden frames with the independent codec"; tail -20 "$work/mux-golden.log"; fi

# mux_check NAME DESCRIPTION ARGS...: one link (a Ping/Pong after Hello first, see the last
# check), the named check must report ok; the log keeps every frame each way.
mux_check() {
  local name=$1 what=$2; shift 2
  local log="$work/mux-$name.log"
  timeout 60 "$PY" -W ignore Tests/peers/rlpx_peer.py mux "$ENODE" --key "$MUX_KEY" --settle-ping \
    --timeout 45 "$@" >"$log" 2>&1
  local code=$?
  if [ $code -eq 0 ] && grep -q "\"event\": \"check\", \"name\": \"$name\", \"ok\": true" "$log"; then
    pass "mux $name: $what"
  else
    fail "mux $name: $what (exit $code)"
    grep -E '"event": "(check|disconnect|mux_link_failed|mux_violation|error)"' "$log" | tail -5
    echo "  the peer's last frames:"; grep -E '"event": "(recv|send|frame)' "$log" | tail -8 | cut -c1-300
    echo "  the daemon's last lines:"; tail -8 "$work/node.err"
  fi
}
mux_check echo "New for service echo with 300 KiB: ack Keep, every byte echoed (windows updated both ways), Keep+Fin answered by Fin and End, both Ends, the ID reused" \
  --echo echo --echo-bytes 307200
mux_check denied "New for a service not allowed to this peer: End+Error 0x02, the link stays up" \
  --denied secret
mux_check unknown-session "two Keeps for a session never opened: one End+Error 0x84, our End ignored" \
  --unknown-session
mux_check overrun "data past the window to a target that does not read: End+Error 0x83 for that session; the link (Ping/Pong) and a second session stay up" \
  --overrun stall --echo echo --echo-bytes 1000
grep -h '"event": "check"' "$work"/mux-*.log | cut -c1-400 >&2

# A peer may speak its capability as soon as both Hellos are through (devp2p; go-ethereum
# sends eth Status at once). 20 links, each sending a New right after the exit's Hello; each
# must get its answer (End+Error 0x02), none a Disconnect.
out=$(timeout 120 "$PY" -W ignore Tests/peers/rlpx_peer.py mux "$ENODE" --key "$MUX_KEY" --denied secret \
  --repeat 20 --timeout 5 2>&1)
if [ $? -eq 0 ] && grep -q '"event": "summary", "links": 20, "failed": 0' <<<"$out"; then
  pass "mux: a New sent right after Hello is answered on each of 20 links"
else
  fail "mux: a New sent right after Hello ($(grep -o '"links".*' <<<"$out")); the exit logged $(grep -c 'breach of protocol' "$work/node.err") x breach of protocol"
  grep -m1 -B1 '"event": "disconnect"' <<<"$out" | cut -c1-300
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
