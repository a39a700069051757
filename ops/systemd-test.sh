#!/usr/bin/env bash
# Stockade under a REAL systemd: socket activation (devp2p, and the SOCKS5 entry), Type=notify (READY/STATUS), the supervisor
# repairing a killed worker, systemd's watchdog restarting a frozen supervisor, the config file
# (/etc/stockade/stockade.toml: `systemctl reload` applies a change, a bad file is refused, a
# missing one runs on the defaults), `stockade status` finding the control socket, Disconnect
# (Quitting) to a connected peer on `systemctl stop`, and the units' verify/security verdicts.
#
# It builds the static release binary, boots ../shared/tools/systemd-harness (systemd as PID 1
# of a systemd-nspawn container with its own loopback-only network), installs the binary,
# units/ and the example config (units/stockade.toml) in it as the README's "Install under
# systemd" says, and drives everything from inside with the binary itself (`stockade ping`,
# `stockade status`, `stockade nodes`).
# Prints PASS/FAIL lines, then "N passed, M failed"; exits non-zero if anything failed.
#
# Needs root (the harness runs systemd-nspawn). Run from anywhere; CI runs it from a fresh clone
# with the harness at ../shared/tools/systemd-harness relative to the repository root.
# Environment:
#   SDH_NAME             harness instance (default "stockade", so it never touches another
#                        user's "sdh" instance); the instance is stopped at the end
#   STOCKADE_SDH         harness directory (default ../shared/tools/systemd-harness)
#   STOCKADE_SKIP_BUILD  1 = use the binary already in .build-systemd
#   STOCKADE_KEEP        1 = leave the container running at the end (for debugging)
set -uo pipefail
cd "$(dirname "$0")/.."

H=${STOCKADE_SDH:-../shared/tools/systemd-harness}
export SDH_NAME=${SDH_NAME:-stockade}
SCRATCH=.build-systemd
UNIT=stockade.service
SOCKET=stockade.socket
# The SOCKS5 entry's socket unit (FileDescriptorName=socks5) and its ListenStream.
SOCKS_SOCKET=stockade-socks.socket
SOCKS_ADDR=127.0.0.1:1080
# units/stockade.socket's ListenStream and the service's StateDirectory (DynamicUser keeps it
# under /var/lib/private).
ADDR=127.0.0.1:30303
NODEKEY=/var/lib/private/stockade/nodekey
# The config file the unit reads (ExecStart=... --config), installed from units/stockade.toml.
CONF=/etc/stockade/stockade.toml
DROPIN_DIR=/etc/systemd/system/$UNIT.d
# The exposure score (systemd-analyze security, 0-10) the hardened unit must stay within.
SECURITY_GOAL=1.5

# ------------------------------------------------------------------------------- reporting
passed=0
failed=0
timings=()
pass() { printf 'PASS  %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; failed=$((failed + 1)); }
info() { printf 'INFO  %s\n' "$*"; }
step() { printf '== %s\n' "$*" >&2; }
# check DESC VALUE REGEX
check() {
    if [[ "$2" =~ $3 ]]; then pass "$1 [$2]"; else fail "$1: got '$2', want /$3/"; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { timings+=("$(printf '%-44s %6s s' "$1" "$2")"); }

summary() {
    if [ ${#timings[@]} -gt 0 ]; then
        echo "---- timings"
        printf '%s\n' "${timings[@]}"
    fi
    echo "$passed passed, $failed failed"
}
# A step everything after it depends on failed: report, summarize, stop.
fatal() {
    fail "$*"
    summary
    exit 1
}

# ------------------------------------------------------------------------------- container access
# Every call is bounded; stdin is closed unless the call feeds the container (Xin).
X() { timeout 60 "$H/exec.sh" "$@" < /dev/null; }
Xin() { timeout 120 "$H/exec.sh" "$@"; }
prop() { X systemctl show -p "$2" --value "$1"; }
# wait_for UNIT PROP REGEX TIMEOUT_S: prints the last value; status 0 once it matched.
wait_for() {
    local end v
    end=$(( SECONDS + $4 ))
    while :; do
        v=$(prop "$1" "$2")
        if [[ "$v" =~ $3 ]]; then echo "$v"; return 0; fi
        if [ $SECONDS -ge "$end" ]; then echo "$v"; return 1; fi
        sleep 0.2
    done
}
# The service's journal, captured whole: piping journalctl into `grep -q` would let grep's early
# exit SIGPIPE journalctl, and pipefail would turn a match into a failure.
journal() { X journalctl -u "$UNIT" -b --no-pager -o cat; }
# in_journal ERE: whether the service's journal has a matching line. journald reads each
# process's stderr as its own stream, so a child's line can land a moment after what the test
# saw happen: look again for up to 10 s before calling it missing.
in_journal() {
    local j end=$(( SECONDS + 10 ))
    while :; do
        j=$(journal)
        grep -qE -- "$1" <<< "$j" && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.3
    done
}
# journal_has_now ERE: a matching line right now (for what must never have happened).
journal_has_now() { local j; j=$(journal); grep -qE -- "$1" <<< "$j"; }
# worker_pids MAINPID: the supervisor's "child worker" processes, one pid a line.
worker_pids() {
    X ps --ppid "$1" -o pid=,args= | awk '/ child worker /{ print $1 }'
}
# ping ARGS...: `stockade ping` inside the container, bounded.
ping_node() { X timeout 40 stockade ping "$@" 2>&1; }

bg_ping=
cleanup() {
    if [ -n "$bg_ping" ] && kill -0 "$bg_ping" 2>/dev/null; then kill "$bg_ping" 2>/dev/null; fi
    if [ "${STOCKADE_KEEP:-0}" = 1 ]; then
        echo "container $SDH_NAME left running (STOCKADE_KEEP=1); stop it with SDH_NAME=$SDH_NAME $H/stop.sh" >&2
    else
        "$H/stop.sh" > /dev/null 2>&1 || true
    fi
    [ -n "${tmp:-}" ] && rm -rf "$tmp"
}

[ "$(id -u)" = 0 ] || { echo "ops/systemd-test.sh: must run as root (the harness runs systemd-nspawn)" >&2; exit 2; }
[ -x "$H/boot.sh" ] || { echo "ops/systemd-test.sh: no systemd harness at $H" >&2; exit 2; }
tmp=$(mktemp -d)
trap cleanup EXIT
t_total=$(now)

# ------------------------------------------------------------------------------- 1. build
if [ "${STOCKADE_SKIP_BUILD:-0}" != 1 ]; then
    step "build: static release binary ($SCRATCH)"
    bash ops/install-deps.sh || fatal "ops/install-deps.sh failed"
    t=$(now)
    swift build -c release --static-swift-stdlib --product stockade --scratch-path "$SCRATCH" >&2 \
        || fatal "swift build -c release --static-swift-stdlib --product stockade"
    timing "build (release, static stdlib)" "$(since "$t")"
fi
BIN=$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path 2>/dev/null)/stockade
[ -x "$BIN" ] || fatal "no binary at $BIN"

# ------------------------------------------------------------------------------- 2. boot, install
step "boot the harness (instance $SDH_NAME)"
# A pristine container every run: an instance left over from an interrupted run would still hold
# an activated service and its node key.
"$H/stop.sh" > /dev/null 2>&1 || true
t=$(now)
"$H/boot.sh" >&2 || fatal "systemd harness did not boot"
timing "harness boot" "$(since "$t")"

step "install binary and units"
Xin sh -c 'cat > /usr/local/bin/stockade.new && chmod 0755 /usr/local/bin/stockade.new && mv /usr/local/bin/stockade.new /usr/local/bin/stockade' < "$BIN" \
    || fatal "install the binary in the container"
# --static-swift-stdlib leaves the C libraries Package.swift links as system libraries
# (libsecp256k1, libsnappy, libsystemd, libseccomp, ...) dynamic. The harness's minimal Debian
# has systemd's (libsystemd0, libseccomp2) but not the others: bring in the host's copies of
# whatever the loader cannot find, as a package's Depends: would on a real machine.
missing=$(X ldd /usr/local/bin/stockade | awk '/not found/{ print $1 }')
bundled=()
for soname in $missing; do
    src=$(ldd "$BIN" | awk -v s="$soname" '$1 == s && $3 ~ /^\// { print $3 }')
    [ -n "$src" ] || fatal "the container lacks $soname and the host has no copy"
    Xin sh -c "cat > /usr/local/lib/$soname" < "$src" || fatal "copy $soname into the container"
    bundled+=("$soname")
done
[ ${#bundled[@]} -gt 0 ] && X ldconfig
unresolved=$(X ldd /usr/local/bin/stockade | awk '/not found/{ print $1 }' | tr '\n' ' ')
if [ -z "$unresolved" ]; then
    pass "the binary's shared libraries resolve in the container (copied from the host: ${bundled[*]:-none})"
else
    fatal "unresolved libraries in the container: $unresolved"
fi
for f in units/$SOCKET units/$SOCKS_SOCKET units/$UNIT; do
    Xin sh -c "cat > /etc/systemd/system/$(basename "$f")" < "$f" || fatal "install $f"
done
X systemctl daemon-reload || fatal "systemctl daemon-reload"
X install -d -m 0755 "$(dirname "$CONF")" || fatal "mkdir $(dirname "$CONF")"
Xin sh -c "cat > $CONF && chmod 0644 $CONF" < units/stockade.toml || fatal "install units/stockade.toml as $CONF"
out=$(X stockade check-config "$CONF" 2>&1)
check "stockade check-config of the shipped example as $CONF" "$out" "^$CONF: OK"

# ------------------------------------------------------------------------------- 3. static verdicts
step "systemd-analyze verify and security"
if out=$(X systemd-analyze verify /etc/systemd/system/$SOCKET /etc/systemd/system/$SOCKS_SOCKET /etc/systemd/system/$UNIT 2>&1); then
    pass "systemd-analyze verify $SOCKET $SOCKS_SOCKET $UNIT"
    [ -n "$out" ] && info "verify said: $out"
else
    fail "systemd-analyze verify $SOCKET $SOCKS_SOCKET $UNIT: $out"
fi

security=$(X systemd-analyze security --no-pager $UNIT 2>&1)
score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' <<< "$security")
if [ -z "$score" ]; then
    fail "systemd-analyze security $UNIT printed no score: $(tail -3 <<< "$security")"
elif awk -v s="$score" -v g="$SECURITY_GOAL" 'BEGIN { exit !(s <= g) }'; then
    pass "systemd-analyze security $UNIT: exposure $score (goal <= $SECURITY_GOAL)"
else
    fail "systemd-analyze security $UNIT: exposure $score, above the goal $SECURITY_GOAL"
fi
# What still counts against the unit, with its weight.
grep '^✗' <<< "$security" | sed 's/  */ /g; s/^/INFO    remaining: /'

# ------------------------------------------------------------------------------- 4. socket activation
step "socket activation"
X systemctl start $SOCKET || fatal "systemctl start $SOCKET"
check "$SOCKET listening" "$(prop $SOCKET SubState)" '^listening$'
check "$UNIT inactive before the first connection" "$(prop $UNIT ActiveState)" '^inactive$'

# The node key (and so the enode) exists only once the service has run: open the first
# connection with a bare TCP connect.
t=$(now)
if X timeout 10 bash -c "exec 3<>/dev/tcp/${ADDR%:*}/${ADDR#*:}"; then
    pass "first TCP connection to $ADDR accepted"
else
    fail "first TCP connection to $ADDR"
fi
v=$(wait_for $UNIT ActiveState '^active$' 30)
check "the first connection started $UNIT (READY=1)" "$v" '^active$'
timing "first connection -> active (READY=1)" "$(since "$t")"
[ "$v" = active ] || { X journalctl -u $UNIT -b --no-pager | tail -40 >&2; fatal "$UNIT did not become active"; }

check "node key created 0600 in the StateDirectory" "$(X stat -c '%a' "$NODEKEY")" '^600$'
enode=$(X stockade enode --key "$NODEKEY" --addr "$ADDR")
check "stockade enode of the service's key" "$enode" "^enode://[0-9a-f]{128}@${ADDR}\$"
if in_journal "^$enode\$"; then pass "the service printed the same enode in its journal"
else fail "enode $enode not in the service's journal"; fi

# The children sandbox themselves (ChildRuntime's Sandbox) inside systemd's own seccomp filter
# and NoNewPrivileges: the workers' and the acceptor's file-access filter must still install.
if journal_has_now 'could not drop root|no file-access filter'; then
    fail "a child's sandbox is incomplete under systemd: $(journal | grep -E -m2 'could not drop root|no file-access filter' | tr '\n' ' ')"
elif in_journal 'worker\[[0-9]+\] .*file access and exec denied \(seccomp\)' && in_journal 'acceptor .*file access and exec denied \(seccomp\)'; then
    pass "workers and acceptor installed their seccomp file-access filter under the unit's own filter"
else
    fail "no worker or acceptor reported its seccomp file-access filter"
fi

main=$(prop $UNIT MainPID)
check "the supervisor runs as the dynamic user (uid), not root" "$(X ps -o uid= -p "$main" | tr -d ' ')" '^[1-9][0-9]*$'
out=$(ping_node "$enode" --count 3)
check "stockade ping against the activated service" "$(tail -1 <<< "$out")" '^3 ping\(s\), median'

# ------------------------------------------------------------------------------- 5. STATUS
step "systemctl show"
check "ActiveState" "$(prop $UNIT ActiveState)" '^active$'
check "StatusText from STATUS=" "$(prop $UNIT StatusText)" 'peers in [0-9]+ out [0-9]+.*workers [0-9]+/[0-9]+ up'
check "NRestarts" "$(prop $UNIT NRestarts)" '^0$'

# ------------------------------------------------------------------------------- 6. worker repair
step "kill -9 of a worker"
before=$(worker_pids "$main")
nworkers=$(wc -w <<< "$before")
check "the supervisor has handshake workers" "$nworkers" '^[1-9][0-9]*$'
victim=$(head -1 <<< "$before")
t=$(now)
X kill -KILL "$victim"
repaired=
end=$(( SECONDS + 20 ))
while [ $SECONDS -lt $end ]; do
    after=$(worker_pids "$main")
    if ! grep -qx "$victim" <<< "$after" && [ "$(wc -w <<< "$after")" = "$nworkers" ]; then repaired=yes; break; fi
    sleep 0.2
done
if [ -n "$repaired" ]; then
    fresh=$(grep -vxF -f <(echo "$before") <<< "$after" | tr '\n' ' ')
    pass "worker $victim replaced by ${fresh% } ($nworkers workers again)"
    timing "kill -9 worker -> replacement spawned" "$(since "$t")"
else
    fail "no replacement for worker $victim within 20 s (workers now: $(worker_pids "$main" | tr '\n' ' '))"
fi
v=$(wait_for $UNIT StatusText "workers $nworkers/$nworkers up, restarts [1-9]" 15)
check "STATUS shows every worker up again and the restart" "$v" "workers $nworkers/$nworkers up, restarts [1-9]"
if in_journal "worker\[[0-9]+\] \(pid $victim\) killed by signal 9"; then
    pass "journal: worker (pid $victim) killed by signal 9"
else
    fail "no 'worker[i] (pid $victim) killed by signal 9' in the journal"
fi
out=$(ping_node "$enode" --count 3)
check "stockade ping after the worker restart" "$(tail -1 <<< "$out")" '^3 ping\(s\), median'
check "MainPID unchanged (the supervisor repaired it, not systemd)" "$(prop $UNIT MainPID)" "^$main\$"
check "NRestarts still 0" "$(prop $UNIT NRestarts)" '^0$'
check "still active" "$(prop $UNIT ActiveState)" '^active$'

# ------------------------------------------------------------------------------- 7. watchdog
step "SIGSTOP of the supervisor: watchdog restart"
X mkdir -p "$DROPIN_DIR"
Xin sh -c "cat > $DROPIN_DIR/50-watchdog-test.conf" < ops/systemd/watchdog-test.conf
X systemctl daemon-reload
# WATCHDOG_USEC reaches the process only at its start: restart it under the short watchdog.
X systemctl restart $UNIT || fail "systemctl restart $UNIT with the test watchdog"
check "restarted under WatchdogSec=3" "$(wait_for $UNIT ActiveState '^active$' 30) $(prop $UNIT WatchdogUSec)" '^active 3s$'
check "NRestarts 0 after a manual restart" "$(prop $UNIT NRestarts)" '^0$'
main=$(prop $UNIT MainPID)
# Several 1.5 s ping periods pass with every child healthy: the watchdog is fed.
sleep 4
check "fed watchdog: still the same supervisor after 4 s" "$(prop $UNIT MainPID) $(prop $UNIT NRestarts)" "^$main 0\$"
t=$(now)
X kill -STOP "$main"
v=$(wait_for $UNIT NRestarts '^1$' 40)
check "watchdog restarted the frozen supervisor (NRestarts)" "$v" '^1$'
timing "SIGSTOP supervisor -> NRestarts=1" "$(since "$t")"
if in_journal 'Watchdog timeout'; then
    pass "journal: $(journal | grep -m1 -o 'Watchdog timeout.*')"
else
    fail "no 'Watchdog timeout' in the journal"
fi
v=$(wait_for $UNIT ActiveState '^active$' 30)
check "active again after the watchdog restart" "$v" '^active$'
timing "SIGSTOP supervisor -> active again" "$(since "$t")"
newmain=$(prop $UNIT MainPID)
if [ -n "$newmain" ] && [ "$newmain" != 0 ] && [ "$newmain" != "$main" ]; then
    pass "new supervisor $newmain replaced the frozen $main"
else
    fail "MainPID after the watchdog restart: '$newmain' (frozen one was $main)"
fi
out=$(ping_node "$enode" --count 3)
check "stockade ping after the watchdog restart (same node key)" "$(tail -1 <<< "$out")" '^3 ping\(s\), median'
X rm -f "$DROPIN_DIR/50-watchdog-test.conf"
X systemctl daemon-reload

# ------------------------------------------------------------------------------- 7b. config file, reload, control socket
step "config file: systemctl reload, a bad file, a missing file; stockade status without flags"
# The CLI finds the unit's control socket (/run/stockade/control.sock) by its search order.
out=$(X timeout 20 stockade status 2>&1)
check "stockade status (no flags) reaches the service's control socket" "$out" '^peers in [0-9]+ out [0-9]+.*workers [0-9]+/[0-9]+ up'
if in_journal "config file $CONF does not exist"; then fail "the service ran without its config file: $(journal | grep -m1 'does not exist')"
else pass "the service read $CONF (no 'does not exist' notice)"; fi

# A changed value: a trusted node (applied by a reload), and the client name (restart only).
reload_enode="enode://$(X stockade keygen --out /tmp/reload-test.key)@127.0.0.1:30399"
# nodes_trusted WANT: polls `stockade nodes` (up to 10 s: the reload reaches the peer manager
# a moment after the supervisor logged it) and prints its trusted list as the last answer had it.
nodes_trusted() {
    local got end=$(( SECONDS + 10 ))
    while :; do
        got=$(X timeout 20 stockade nodes --json 2>&1 | tr -d ' \n' | grep -o '"trusted":\[[^]]*\]')
        [ "$got" = "$1" ] || [ $SECONDS -ge $end ] && { echo "$got"; return; }
        sleep 0.3
    done
}
X sed -i "s|^#trusted = \[\]|trusted = [\"$reload_enode\"]|; s|^#name = .*|name = \"stockade-reloaded\"|" "$CONF"
check "the edited config passes check-config" "$(X stockade check-config "$CONF" 2>&1)" "^$CONF: OK \(0 static, 1 trusted"
t=$(now)
if X timeout 30 systemctl reload $UNIT; then pass "systemctl reload $UNIT"; else fail "systemctl reload $UNIT"; fi
if in_journal "reloaded $CONF: .*not applied until restart: node.name"; then
    pass "journal: $(journal | grep -m1 -o "reloaded $CONF.*")"
else
    fail "no 'reloaded $CONF ... not applied until restart: node.name' in the journal"
fi
timing "systemctl reload -> reloaded" "$(since "$t")"
check "the reload applied [peers] trusted (stockade nodes)" "$(nodes_trusted "\"trusted\":[\"$reload_enode\"]")" "\"trusted\":\[\"$reload_enode\"\]"
check "still active, same supervisor after the reload" "$(prop $UNIT ActiveState) $(prop $UNIT MainPID)" "^active $newmain\$"

# A bad file is refused and the running config kept.
X cp "$CONF" "$CONF.good"
X sed -i 's|^#max_peers = .*|max_peerz = 7|' "$CONF"
X timeout 30 systemctl reload $UNIT || fail "systemctl reload $UNIT with a bad file"
if in_journal "reload refused, keeping the running config: .*max_peerz"; then pass "journal: a bad file's reload is refused, naming the key"
else fail "no 'reload refused ... max_peerz' in the journal"; fi
check "the running config kept its trusted node" "$(nodes_trusted "\"trusted\":[\"$reload_enode\"]")" "\"trusted\":\[\"$reload_enode\"\]"
check "still active after the refused reload" "$(prop $UNIT ActiveState)" '^active$'

# No file at all: the unit's --config-optional runs the node on the defaults and says so; a
# reload reads the file once it is back.
X mv "$CONF.good" "$CONF.away"
X rm -f "$CONF"
X timeout 40 systemctl restart $UNIT || fail "systemctl restart $UNIT without $CONF"
check "active without $CONF" "$(wait_for $UNIT ActiveState '^active$' 30)" '^active$'
if in_journal "config file $CONF does not exist \(--config-optional\): running on the embedded defaults"; then
    pass "journal: a missing $CONF is a notice, the node runs on the defaults"
else
    fail "no 'config file $CONF does not exist (--config-optional)' notice in the journal"
fi
check "no trusted node without the file" "$(nodes_trusted '"trusted":[]')" '"trusted":\[\]'
X mv "$CONF.away" "$CONF"
X timeout 30 systemctl reload $UNIT || fail "systemctl reload $UNIT once $CONF is back"
check "a reload read the file once it was back" "$(nodes_trusted "\"trusted\":[\"$reload_enode\"]")" "\"trusted\":\[\"$reload_enode\"\]"
check "NRestarts 0: every restart and reload here was asked for" "$(prop $UNIT NRestarts)" '^0$'

# ------------------------------------------------------------------------------- 8. stop
step "systemctl stop with a peer connected"
"$H/exec.sh" timeout 120 stockade ping "$enode" --count 1000 --interval 0.05 < /dev/null > "$tmp/ping.out" 2>&1 &
bg_ping=$!
end=$(( SECONDS + 20 ))
until grep -q '^pong 5:' "$tmp/ping.out" || [ $SECONDS -ge $end ] || ! kill -0 "$bg_ping" 2>/dev/null; do sleep 0.2; done
if grep -q '^pong 5:' "$tmp/ping.out"; then pass "peer connected and ponging"
else fail "background ping never got going: $(tail -2 "$tmp/ping.out")"; fi
t=$(now)
if X timeout 40 systemctl stop $UNIT; then pass "systemctl stop $UNIT returned"
else fail "systemctl stop $UNIT"; fi
timing "systemctl stop with a peer connected" "$(since "$t")"
end=$(( SECONDS + 20 ))
while kill -0 "$bg_ping" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
if kill -0 "$bg_ping" 2>/dev/null; then
    fail "the peer was still connected 20 s after the stop"
    kill "$bg_ping" 2>/dev/null
    ping_rc=killed
else
    wait "$bg_ping"
    ping_rc=$?
fi
bg_ping=
check "the peer's ping ended with an error" "$ping_rc" '^[1-9][0-9]*$'
check "the peer received Disconnect(Quitting)" "$(grep -m1 'disconnect' "$tmp/ping.out")" 'client quitting'
check "ActiveState after stop" "$(prop $UNIT ActiveState)" '^inactive$'
check "Result after stop (clean exit)" "$(prop $UNIT Result)" '^success$'
if in_journal 'stopping \(SIGTERM\)'; then pass "journal: supervisor logged stopping (SIGTERM)"
else fail "no 'stopping (SIGTERM)' in the journal"; fi
check "$SOCKET still listening after the service stopped" "$(prop $SOCKET SubState)" '^listening$'
# Over the whole run the children's heartbeats kept flowing: the supervisor never had to kill a
# hung child, nor gave up on a crash-looping one.
if journal_has_now 'silent for|giving up'; then
    fail "the supervisor killed a hung child or gave up: $(journal | grep -E -m2 'silent for|giving up' | tr '\n' ' ')"
else
    pass "no child was killed as hung, no crash loop, over the whole run"
fi

# ------------------------------------------------------------------------------- 9. SOCKS5 socket
step "socket-activated SOCKS5 entry ($SOCKS_SOCKET)"
X systemctl start $SOCKS_SOCKET || fail "systemctl start $SOCKS_SOCKET"
check "$SOCKS_SOCKET listening" "$(prop $SOCKS_SOCKET SubState)" '^listening$'
check "$UNIT inactive before the first SOCKS5 client" "$(prop $UNIT ActiveState)" '^inactive$'
# The first client: greeting (no auth), then CONNECT 127.0.0.1:22. The unit's node has no
# default exit, so a served request is refused with reply 02 (not allowed by ruleset), which
# only the daemon's SOCKS5 entry can have said.
t=$(now)
socks=$(X timeout 60 python3 -c '
import socket, sys
s = socket.create_connection(("'"${SOCKS_ADDR%:*}"'", '"${SOCKS_ADDR#*:}"'), 10)
s.settimeout(40)
s.sendall(b"\x05\x01\x00")
print(s.recv(2).hex())
s.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x16")
print(s.recv(10).hex())
' 2>&1 | tr '\n' ' ')
check "the first SOCKS5 client is served by the service it started" "$socks" '^0500 05020001000000000000 $'
timing "first SOCKS5 client -> served" "$(since "$t")"
check "the SOCKS5 client started $UNIT" "$(wait_for $UNIT ActiveState '^active$' 30)" '^active$'
if in_journal "socket-activated SOCKS5 entry on $SOCKS_ADDR"; then pass "journal: the supervisor took the socks5 socket"
else fail "no 'socket-activated SOCKS5 entry on $SOCKS_ADDR' in the journal"; fi
if in_journal "socket-activated on $ADDR"; then pass "journal: devp2p still from $SOCKET beside it"
else fail "no 'socket-activated on $ADDR' in the journal"; fi
X systemctl stop $UNIT $SOCKS_SOCKET

# ------------------------------------------------------------------------------- done
if [ "$failed" -gt 0 ]; then
    echo "---- journal of $UNIT (last 60 lines)" >&2
    X journalctl -u $UNIT -b --no-pager -o short-monotonic | tail -60 >&2
fi
timing "total" "$(since "$t_total")"
summary
[ "$failed" -eq 0 ]
