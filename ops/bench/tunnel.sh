#!/usr/bin/env bash
# Tunnel benchmark, release build, 127.0.0.1 only: the same load through every way of carrying
# TCP streams (and UDP datagrams) between two nodes, side by side in one run, one table each.
#
#   ops/bench/tunnel.sh                 every path, 3 interleaved rounds, about 5-10 minutes
#   ops/bench/tunnel.sh --perf          also perf-record the peer managers during the 1-stream row
#   ROUNDS=5 ops/bench/tunnel.sh        more rounds for a steadier median (3..15)
#   PATHS="direct ssh-D v2ray-socks5"   a subset of the paths (names below)
#   PERF_PATH=ssh-D                     profile another path's tunnel processes with --perf
#   SCRATCH_PATH=.build-x               swift build --scratch-path (default: .build)
#   BIN_DIR=DIR                         use the binaries already built in DIR, build nothing
#   BYTES_1=512M BYTES_64=8M BYTES_Z=256M   bytes of the 1-stream row, per stream of the
#                                       64-stream row, and of the compressible row
#   COUNT=200 EOF_COUNT=10 SESSIONS=1000 HOLD=3   latency probes, EOF probes, idle sessions
#   ROWS="urtt urate uflood usink"      a subset of the rows (names below; default: all)
#   UDP_COUNT=1000 UDP_SIZE=1200 UDP_WINDOW=32 UDP_SECONDS=3   UDP probes, payload bytes,
#                                       datagrams outstanding in urate, seconds of urate and floods
#
# Paths (each a row of the table):
#   direct          the load tool straight to the source server: the machine's loopback ceiling
#   ssh-D / ssh-L   OpenSSH (default cipher, chacha20-poly1305): a private sshd started here on
#                   127.0.0.1 (own host key, authorized_keys and config in a temp dir; no system
#                   file is read or changed), one `ssh -N -D -L` connection carrying both
#   ssh-D-gcm       the same with `-c aes128-gcm@openssh.com`, its own sshd and connection
#   v2ray-socks5 / v2ray-fwd   v2ray 4.34 (Debian's package), two processes: SOCKS (UDP on) and
#                   dokodemo-door (tcp,udp) inbounds -> VMess outbound with mux {enabled,
#                   concurrency 8} -> VMess inbound -> freedom. Its mux carries UDP too (Mux.Cool
#                   network UDP, one mux session per SOCKS5 destination or dokodemo client).
#   stockade-socks5 / stockade-fwd   two daemons A (SOCKS5 entry and a [[forward]]) and B (the
#                   exit, whose [[allow]] lets A reach the source as service "src"); reached
#                   through A's SOCKS5 as src.<first 16 hex of B's ID>.stk. While the daemon has
#                   no mux these rows print "n/a". UDP: SOCKS5 UDP ASSOCIATE on the same entry
#                   (datagrams to src.<id>.stk, the flood's to sink.<id>.stk) and a [[forward]]
#                   with network = "udp" on the TCP forward's port.
#
# Rows, each run by StockadeTunnelBench (Sources/StockadeTunnelBench) against its own source
# server: throughput of 1 stream and of 64 concurrent streams (incompressible random data; one
# compressible 1-stream row apart, since snappy shrinks it before Keccak sees it); connect (SOCKS5
# handshake included) + first byte of fresh sessions, p50/p99, idle, beside a stalled session
# (it asked for endless data and never reads) and beside a bulk download; how long the source's
# FIN takes to reach the client; the RSS of the tunnel processes holding SESSIONS idle sessions;
# CPU (utime+stime from /proc/PID/stat) of the tunnel processes per tunnelled MB in the 1-stream
# row: both ends, i.e. for ssh the client and the sshd session processes, for v2ray both
# processes, for Stockade both daemons' peer managers (stockade-pm). Beside Stockade's, the frame
# codec's CPU per MB (StockadeBench frame, 64 KiB incompressible messages, snappy on, encode and
# decode = both ends) measured in each round.
#
# UDP rows (a second table; no ssh rows: OpenSSH carries no UDP), the source echoing UDP on its TCP
# port, UDP_SIZE-byte datagrams numbered by the tool: urtt, echo round trips one outstanding 1 ms
# apart, p50/p99 and lost (an echo later than 1 s is lost); urate, UDP_SECONDS with UDP_WINDOW
# datagrams outstanding: echoed datagrams/s, loss and the round trips under that load; uflood, one
# session sending as fast as it can for UDP_SECONDS into the echo: sent/s, echoed/s and the loss
# (sent - echoed over sent, either direction), beside probes on a second session; usink, the same
# flood into a UDP socket that never reads (on the SOCKS5 paths: a forward's target is the echo):
# the probes beside it, and the tunnel processes' peak RSS meanwhile.
#
# Every figure is the median over ROUNDS rounds; within a round each row runs over every path
# before the next row starts, and the order of the paths turns every round, so a neighbour's
# build on this shared machine spreads over all paths instead of landing on one.
set -euo pipefail
cd "$(dirname "$0")/../.."

source ops/bench/common.sh
bench_arguments "$@"

SCRATCH_PATH="${SCRATCH_PATH:-.build}"
ROUNDS="${ROUNDS:-3}"
ALL_PATHS="direct ssh-D ssh-L ssh-D-gcm v2ray-socks5 v2ray-fwd stockade-socks5 stockade-fwd"
PATHS="${PATHS:-$ALL_PATHS}"
TCP_ROWS="t1 t64 tz lat stalled bulk eof idle"
UDP_ROWS="urtt urate uflood usink"
ROWS="${ROWS:-$TCP_ROWS $UDP_ROWS}"
UDP_COUNT="${UDP_COUNT:-1000}"
UDP_SIZE="${UDP_SIZE:-1200}"
UDP_WINDOW="${UDP_WINDOW:-32}"
UDP_SECONDS="${UDP_SECONDS:-3}"
# A datagram whose echo has not come back within this is lost.
UDP_TIMEOUT_MS=1000
PERF_PATH="${PERF_PATH:-stockade-socks5}"
BYTES_1="${BYTES_1:-512M}"
BYTES_64="${BYTES_64:-8M}"
BYTES_Z="${BYTES_Z:-256M}"
COUNT="${COUNT:-200}"
EOF_COUNT="${EOF_COUNT:-10}"
SESSIONS="${SESSIONS:-1000}"
HOLD="${HOLD:-3}"
# Each probe's connect, read and write is bounded by this; a tunnel that stalls every session
# (v2ray's mux beside a stalled one) costs at most 5 of them per row (the tool stops then).
PROBE_TIMEOUT_MS=2000
# How long a tunnel may take to open its listening ports; Stockade's also decides "n/a".
START_TIMEOUT=20
# Upper bound on any one tool run (the rows are seconds long; this only stops a wedged one).
ROW_LIMIT=180

case "$ROUNDS" in ''|*[!0-9]*) echo "ROUNDS must be an integer" >&2; exit 2 ;; esac
[ "$ROUNDS" -ge 3 ] && [ "$ROUNDS" -le 15 ] || { echo "ROUNDS must be 3..15" >&2; exit 2; }
for p in $PATHS; do
  [[ " $ALL_PATHS " == *" $p "* ]] || { echo "unknown path $p (known: $ALL_PATHS)" >&2; exit 2; }
done
for r in $ROWS; do
  [[ " $TCP_ROWS $UDP_ROWS " == *" $r "* ]] || { echo "unknown row $r (known: $TCP_ROWS $UDP_ROWS)" >&2; exit 2; }
done
for v in UDP_COUNT UDP_SIZE UDP_WINDOW UDP_SECONDS; do
  case "${!v}" in ''|*[!0-9]*) echo "$v must be an integer" >&2; exit 2 ;; esac
done
[ "$UDP_SECONDS" -ge 1 ] && [ "$UDP_SECONDS" -le 60 ] || { echo "UDP_SECONDS must be 1..60" >&2; exit 2; }
# has_rows LIST: whether ROWS names any row of LIST.
has_rows() { local r; for r in $ROWS; do [[ " $1 " == *" $r "* ]] && return 0; done; return 1; }

# --- what it needs ------------------------------------------------------------------------------
./ops/install-deps.sh
need=(openssh-server openssh-client v2ray procps)
[ "$PERF" = 1 ] && need+=(linux-perf)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tunnel.sh: installing missing packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Debian's postinst would start the system sshd and v2ray where services may start; the
  # benchmark never uses them (it runs its own on 127.0.0.1).
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 1000 sessions are 1000+ descriptors in the tool and in each tunnel process (they inherit it).
ulimit -n "$(( $(ulimit -Hn) < 65536 ? $(ulimit -Hn) : 65536 ))" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((SESSIONS * 2 + 64)) ] ||
  echo "tunnel.sh: RLIMIT_NOFILE is $(ulimit -n): fewer than $SESSIONS idle sessions may open" >&2

build_release stockade StockadeTunnelBench StockadeBench
tool="$bin/StockadeTunnelBench"

results="$work/results.txt"
: > "$results"

read -r SRC SSH_D SSH_L SSH_PORT GCM_D GCM_PORT V_SOCKS V_FWD V_VMESS S_SOCKS S_FWD S_A S_B SINK <<< "$("$tool" ports 14)"

# --- the source server --------------------------------------------------------------------------
"$tool" source --listen "127.0.0.1:$SRC" --udp-sink "127.0.0.1:$SINK" --lifetime 7200 > "$work/source.out" 2> "$work/source.err" &
started+=($!)
wait_port "$SRC" 10 $! || { echo "the source server did not start" >&2; cat "$work/source.err" >&2; exit 1; }

# --- OpenSSH ------------------------------------------------------------------------------------
mkdir -p "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/client_key"
cp "$work/ssh/client_key.pub" "$work/ssh/authorized_keys"
chmod 700 "$work/ssh"; chmod 600 "$work/ssh/authorized_keys"
# sshd refuses to start without its privilege-separation directory (Debian's unit creates it).
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
user="$(id -un)"
# start_sshd PORT: a private sshd on 127.0.0.1:PORT, its config on the command line only.
start_sshd() {
  /usr/sbin/sshd -D -e -f /dev/null -p "$1" -o ListenAddress=127.0.0.1 -o HostKey="$work/ssh/host_key" \
    -o AuthorizedKeysFile="$work/ssh/authorized_keys" -o PidFile=none -o UsePAM=no -o StrictModes=no \
    -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=prohibit-password \
    -o AllowTcpForwarding=yes -o MaxStartups=2000 -o MaxSessions=10 -o LogLevel=ERROR \
    2>> "$work/ssh/sshd-$1.log" &
  started+=($!)
  sshd_pid=$!
}
# start_ssh PORT SSHD_PID EXTRA...: `ssh -N` to it with the forwards in EXTRA; sets ssh_pid.
start_ssh() {
  local port="$1"; shift
  ssh -N -F /dev/null -i "$work/ssh/client_key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes -o LogLevel=ERROR "$@" "$user@127.0.0.1" \
    2>> "$work/ssh/ssh-$port.log" &
  started+=($!)
  ssh_pid=$!
}
start_sshd "$SSH_PORT"; sshd_default=$sshd_pid
start_sshd "$GCM_PORT"; sshd_gcm=$sshd_pid
wait_port "$SSH_PORT" 10 "$sshd_default" && wait_port "$GCM_PORT" 10 "$sshd_gcm" ||
  { echo "sshd did not start:" >&2; cat "$work"/ssh/sshd-*.log >&2; exit 1; }
start_ssh "$SSH_PORT" -D "127.0.0.1:$SSH_D" -L "127.0.0.1:$SSH_L:127.0.0.1:$SRC"; ssh_default=$ssh_pid
start_ssh "$GCM_PORT" -c aes128-gcm@openssh.com -D "127.0.0.1:$GCM_D"; ssh_gcm=$ssh_pid
wait_port "$SSH_D" "$START_TIMEOUT" "$ssh_default" && wait_port "$SSH_L" 5 "$ssh_default" &&
  wait_port "$GCM_D" "$START_TIMEOUT" "$ssh_gcm" ||
  { echo "ssh did not open its forwards:" >&2; cat "$work"/ssh/*.log >&2; exit 1; }

# --- v2ray --------------------------------------------------------------------------------------
mkdir -p "$work/v2ray"
uuid="$(cat /proc/sys/kernel/random/uuid)"
cat > "$work/v2ray/client.json" <<EOF
{
  "log": {"loglevel": "error"},
  "inbounds": [
    {"tag": "socks", "listen": "127.0.0.1", "port": $V_SOCKS, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}},
    {"tag": "fwd", "listen": "127.0.0.1", "port": $V_FWD, "protocol": "dokodemo-door",
     "settings": {"address": "127.0.0.1", "port": $SRC, "network": "tcp,udp"}}
  ],
  "outbounds": [
    {"protocol": "vmess",
     "settings": {"vnext": [{"address": "127.0.0.1", "port": $V_VMESS,
                             "users": [{"id": "$uuid", "alterId": 0, "security": "aes-128-gcm"}]}]},
     "mux": {"enabled": true, "concurrency": 8}}
  ]
}
EOF
cat > "$work/v2ray/server.json" <<EOF
{
  "log": {"loglevel": "error"},
  "inbounds": [
    {"listen": "127.0.0.1", "port": $V_VMESS, "protocol": "vmess",
     "settings": {"clients": [{"id": "$uuid", "alterId": 0}]}}
  ],
  "outbounds": [{"protocol": "freedom"}]
}
EOF
v2ray -config "$work/v2ray/server.json" > "$work/v2ray/server.log" 2>&1 &
started+=($!); v2ray_server=$!
v2ray -config "$work/v2ray/client.json" > "$work/v2ray/client.log" 2>&1 &
started+=($!); v2ray_client=$!
wait_port "$V_VMESS" "$START_TIMEOUT" "$v2ray_server" && wait_port "$V_SOCKS" "$START_TIMEOUT" "$v2ray_client" &&
  wait_port "$V_FWD" 5 "$v2ray_client" ||
  { echo "v2ray did not start:" >&2; cat "$work"/v2ray/*.log >&2; exit 1; }

# --- Stockade -----------------------------------------------------------------------------------
# B (the exit) first: its node ID goes into A's config. Each daemon's key is made beforehand in
# its state dir (where `run` would create it), so both IDs are known without parsing a log.
stockade_na=""; stockade_a=""; stockade_b=""; stk_host=""
# new_node_id NAME: a node key in NAME's state dir; prints its node ID (128 hex digits).
new_node_id() {
  local url
  mkdir -p "$work/stockade/$1"
  "$bin/stockade" keygen --out "$work/stockade/$1/nodekey" > /dev/null
  url="$("$bin/stockade" enode --key "$work/stockade/$1/nodekey" | grep -m 1 -o 'enode://[0-9a-f]*')"
  echo "${url#enode://}"
}
# start_stockade NAME PORT: the daemon with NAME's config and state dir; sets stockade_pid.
start_stockade() {
  "$bin/stockade" run --config "$work/stockade/$1.toml" --state-dir "$work/stockade/$1" \
    --listen "127.0.0.1:$2" > "$work/stockade/$1.out" 2> "$work/stockade/$1.err" &
  started+=($!)
  stockade_pid=$!
}
start_stockade_pair() {
  local a_id b_id
  b_id="$(new_node_id b)"; a_id="$(new_node_id a)"
  stk_host="src.${b_id:0:16}.stk"
  cat > "$work/stockade/b.toml" <<EOF
[workers]
count = 1
[services]
src = "127.0.0.1:$SRC"
sink = "127.0.0.1:$SINK"
[[allow]]
peers = ["$a_id"]
targets = ["src", "sink", "127.0.0.1:$SRC"]
EOF
  cat > "$work/stockade/a.toml" <<EOF
[workers]
count = 1
[peers]
static = ["enode://$b_id@127.0.0.1:$S_B"]
[socks5]
listen = "127.0.0.1:$S_SOCKS"
[[forward]]
listen = "127.0.0.1:$S_FWD"
peer = "$b_id"
target = "src"
[[forward]]
listen = "127.0.0.1:$S_FWD"
peer = "$b_id"
target = "src"
network = "udp"
EOF
  start_stockade b "$S_B"; stockade_b=$stockade_pid
  if ! wait_port "$S_B" "$START_TIMEOUT" "$stockade_b"; then
    stockade_na="$(not_started B "$stockade_b" b)"
    return
  fi
  start_stockade a "$S_A"; stockade_a=$stockade_pid
  if ! { wait_port "$S_SOCKS" "$START_TIMEOUT" "$stockade_a" && wait_port "$S_FWD" 5 "$stockade_a"; }; then
    stockade_na="$(not_started "A's SOCKS5 entry or forward" "$stockade_a" a)"
    return
  fi
  # The entry listens before A's static dial to B is done: wait (bounded) until one session
  # reaches the source, so the first row does not time the link's set-up.
  local i
  for i in $(seq 1 10); do
    timeout -k 2 10 "$tool" latency --count 1 --timeout-ms 2000 --via "socks5://127.0.0.1:$S_SOCKS" \
      --target "$stk_host:$SRC" 2> /dev/null | grep -q ' ok=1 ' && return
    sleep 1
  done
  stockade_na="no session through A's SOCKS5 entry reached the source within ~30s"
}
# not_started WHAT PID NAME: why a daemon's port never opened (it exited, with its first error
# line, or it runs without opening it).
not_started() {
  if kill -0 "$2" 2>/dev/null; then
    echo "$1 did not open within ${START_TIMEOUT}s"
  else
    local why
    why="$(grep -m 1 -E ': line [0-9]+:' "$work/stockade/$3.err" || grep -m 1 -v '^ *$' "$work/stockade/$3.err" || true)"
    echo "$1: the daemon exited: $(echo "$why" | sed 's|^.*/stockade/||' | cut -c1-90)"
  fi
}
if [[ " $PATHS " == *" stockade-"* ]]; then
  start_stockade_pair
  if [ -n "$stockade_na" ]; then
    echo "stockade: $stockade_na; its rows print n/a. Last lines of the daemons' stderr:" >&2
    tail -n 3 "$work"/stockade/*.err >&2 || true
  fi
fi

# --- the processes of each path -----------------------------------------------------------------
# descendants PID...: every process below the given ones.
descendants() {
  ps -e -o pid=,ppid= | awk -v roots=" $* " '
    { parent[$1] = $2 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
      do { changed = 0
        for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; out = out " " p; changed = 1 }
      } while (changed)
      print out
    }'
}
# tunnel_pids PATH: the processes whose CPU and memory carry that path's sessions (both ends).
tunnel_pids() {
  case "$1" in
    ssh-D|ssh-L) echo "$ssh_default $(descendants "$sshd_default")" ;;
    ssh-D-gcm) echo "$ssh_gcm $(descendants "$sshd_gcm")" ;;
    v2ray-*) echo "$v2ray_client $v2ray_server" ;;
    stockade-*)
      for p in $(descendants "$stockade_a" "$stockade_b"); do
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = stockade-pm ]; then echo "$p"; fi
      done | tr '\n' ' ' ;;
    *) echo "" ;;
  esac
}
clk_tck="$(getconf CLK_TCK)"
# cpu_ticks PID...: utime + stime summed (fields 14 and 15 of /proc/PID/stat, after the comm).
cpu_ticks() {
  local total=0 p t
  for p in "$@"; do
    t="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
rss_kib() {
  local total=0 p r
  for p in "$@"; do
    r="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
    total=$((total + ${r:-0}))
  done
  echo "$total"
}
# route_args PATH [ROW]: the tool's --via/--target for that path (and row: the UDP rows' routes,
# empty where the path carries no UDP or the row cannot be run on it).
route_args() {
  if [[ "${2:-}" == u* ]]; then udp_args "$1" "$2"; return; fi
  case "$1" in
    direct) echo "--via direct --target 127.0.0.1:$SRC" ;;
    ssh-D) echo "--via socks5://127.0.0.1:$SSH_D --target 127.0.0.1:$SRC" ;;
    ssh-L) echo "--via forward://127.0.0.1:$SSH_L" ;;
    ssh-D-gcm) echo "--via socks5://127.0.0.1:$GCM_D --target 127.0.0.1:$SRC" ;;
    v2ray-socks5) echo "--via socks5://127.0.0.1:$V_SOCKS --target 127.0.0.1:$SRC" ;;
    v2ray-fwd) echo "--via forward://127.0.0.1:$V_FWD" ;;
    stockade-socks5) echo "--via socks5://127.0.0.1:$S_SOCKS --target $stk_host:$SRC" ;;
    stockade-fwd) echo "--via forward://127.0.0.1:$S_FWD" ;;
  esac
}
# udp_args PATH ROW: the TCP route's entry for datagrams (socks5udp://: a UDP ASSOCIATE there;
# udpforward://: the UDP forward on the TCP forward's port); none for OpenSSH (no UDP). uflood's
# probes go to the echo on a session of their own; usink floods the sink, only where datagrams
# name their destination (a forward's is the echo).
udp_args() {
  [[ "$1" == ssh-* ]] && return 0
  local via echo_t sink_t
  via="$(route_args "$1" | awk '{ sub(/^socks5:/, "socks5udp:", $2); sub(/^forward:/, "udpforward:", $2); print $2 }')"
  echo_t="$(udp_target "$1" src "$SRC")"; sink_t="$(udp_target "$1" sink "$SINK")"
  case "$2" in
    usink) if [ -n "$sink_t" ]; then echo "--via $via --target $sink_t --probe-target $echo_t"; fi ;;
    uflood) echo "--via $via${echo_t:+ --target $echo_t --probe-target $echo_t}" ;;
    *) echo "--via $via${echo_t:+ --target $echo_t}" ;;
  esac
}
# udp_target PATH SERVICE PORT: how that path's datagrams name the source's SERVICE (src: the echo,
# sink: the non-reading socket); empty for a forward (its target is fixed).
udp_target() {
  case "$1" in
    direct|v2ray-socks5) echo "127.0.0.1:$3" ;;
    stockade-socks5) echo "$2.${stk_host#src.}:$3" ;;
  esac
}
available() { [[ "$1" != stockade-* ]] || [ -z "$stockade_na" ]; }

# record PATH ROW ROUND LINE [EXTRA]: one result line for the table.
record() { echo "path=$1 row=$2 round=$3 ${4#* } $5" >> "$results"; }

# run_row PATH ROW ROUND ARGS...: one tool run on that path; CPU of its tunnel processes around it
# (and in the usink row their peak RSS, sampled every 0.2 s while the tool runs).
run_row() {
  local path="$1" row="$2" round="$3"; shift 3
  local pids before after line extra="" perf_pid="" sampler="" base_rss=""
  # shellcheck disable=SC2046
  pids="$(tunnel_pids "$path")"
  if [ "$PERF" = 1 ] && [ "$round" = 1 ] && [ "$row" = t1 ] && [ "$path" = "$PERF_PATH" ] && [ -n "$pids" ]; then
    perf record -g -e cpu-clock -p "$(echo $pids | tr ' ' ',')" -o "$work/perf.data" > "$work/perf.log" 2>&1 &
    perf_pid=$!; started+=($perf_pid)
    sleep 1
  fi
  if [ "$row" = usink ] && [ -n "$pids" ]; then
    base_rss="$(rss_kib $pids)"
    echo "$base_rss" > "$work/peak.kib"
    # shellcheck disable=SC2086
    ( peak="$base_rss"
      for _ in $(seq 1 $((ROW_LIMIT * 5))); do
        r="$(rss_kib $pids)"
        [ "$r" -gt "$peak" ] && { peak="$r"; echo "$peak" > "$work/peak.kib"; }
        sleep 0.2
      done ) &
    sampler=$!; started+=($sampler)
  fi
  before="$(cpu_ticks $pids)"
  line="$(timeout -k 5 "$ROW_LIMIT" "$tool" "$@" $(route_args "$path" "$row") 2>> "$work/tool.err" | tail -n 1)" || true
  after="$(cpu_ticks $pids)"
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
  [ -n "$pids" ] && extra="cpu_s=$(awk -v t=$((after - before)) -v h="$clk_tck" 'BEGIN { printf "%.3f", t / h }')"
  if [ -n "$sampler" ]; then
    kill -TERM "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    extra="$extra peak_rss_kib=$(cat "$work/peak.kib") base_kib=$base_rss"
  fi
  if [ -z "$line" ]; then line="failed-run error=1"; echo "  $path $row: the tool printed nothing (see below)" >&2; fi
  record "$path" "$row" "$round" "$line" "$extra"
}

# idle_row PATH ROUND: SESSIONS idle sessions held open; RSS of the tunnel processes meanwhile,
# beside their RSS before the first round (freed session memory is rarely given back to the
# system, so the RSS right before a later round's row would hide the growth).
declare -A rss_at_start
idle_row() {
  local path="$1" round="$2" rss out="$work/idle.out" i tool_pid
  : > "$out"
  timeout -k 5 "$ROW_LIMIT" "$tool" idle --sessions "$SESSIONS" --hold "$HOLD" --timeout-ms 5000 \
    $(route_args "$path") > "$out" 2>> "$work/tool.err" &
  tool_pid=$!
  for i in $(seq 1 $((ROW_LIMIT * 10))); do
    grep -q '^idle ' "$out" && break
    kill -0 "$tool_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1   # let the tunnels settle with every session open
  rss="$(rss_kib $(tunnel_pids "$path"))"
  wait "$tool_pid" 2>/dev/null || true
  record "$path" idle "$round" "$(grep '^idle ' "$out" || echo 'idle opened=0')" "rss_kib=$rss base_kib=${rss_at_start[$path]}"
}

# The frame codec's CPU per MB, once per round: both ends of a 64 KiB incompressible message
# with snappy on, CPU time (StockadeBench frame; MB/s of CPU time -> ms per MB).
codec_row() {
  local mbps
  mbps="$(timeout -k 5 120 "$bin/StockadeBench" --machine --throughput-clock cpu --runs 1 frame 2>/dev/null |
    awk '$1 == "frame" && / bytes=65536 / && / snappy=on / { sub(/.*MBps=/, ""); print; exit }')"
  [ -n "$mbps" ] && echo "path=codec row=codec round=$1 ms_per_MB=$(awk -v m="$mbps" 'BEGIN { printf "%.3f", 1000 / m }') MBps=$mbps" >> "$results"
}

# --- the rounds ---------------------------------------------------------------------------------
rows="$ROWS"
paths=()
for p in $PATHS; do available "$p" && paths+=("$p"); done
echo "== $ROUNDS rounds over: ${paths[*]}" >&2
for p in "${paths[@]}"; do rss_at_start[$p]="$(rss_kib $(tunnel_pids "$p"))"; done
for round in $(seq 1 "$ROUNDS"); do
  # This round's order of the paths: rotated by the round number.
  order=("${paths[@]:$(( (round - 1) % ${#paths[@]} ))}" "${paths[@]:0:$(( (round - 1) % ${#paths[@]} ))}")
  echo "== round $round/$ROUNDS: ${order[*]}" >&2
  for row in $rows; do
    for path in "${order[@]}"; do
      case "$row" in
        t1) run_row "$path" t1 "$round" throughput --streams 1 --bytes "$BYTES_1" --timeout-ms 10000 ;;
        t64) run_row "$path" t64 "$round" throughput --streams 64 --bytes "$BYTES_64" --timeout-ms 20000 ;;
        tz) run_row "$path" tz "$round" throughput --streams 1 --bytes "$BYTES_Z" --compressible --timeout-ms 10000 ;;
        lat) run_row "$path" lat "$round" latency --count "$COUNT" --timeout-ms "$PROBE_TIMEOUT_MS" ;;
        stalled) run_row "$path" stalled "$round" latency --count "$COUNT" --neighbour stalled --timeout-ms "$PROBE_TIMEOUT_MS" ;;
        bulk) run_row "$path" bulk "$round" latency --count "$COUNT" --neighbour bulk --timeout-ms "$PROBE_TIMEOUT_MS" ;;
        eof) run_row "$path" eof "$round" eof --count "$EOF_COUNT" --timeout-ms 5000 ;;
        idle) [ "$path" = direct ] || idle_row "$path" "$round" ;;
        u*) [ -n "$(route_args "$path" "$row")" ] || continue ;;&
        urtt) run_row "$path" urtt "$round" udp-rtt --count "$UDP_COUNT" --size "$UDP_SIZE" --timeout-ms "$UDP_TIMEOUT_MS" ;;
        urate) run_row "$path" urate "$round" udp-rate --window "$UDP_WINDOW" --seconds "$UDP_SECONDS" --size "$UDP_SIZE" \
                 --timeout-ms "$UDP_TIMEOUT_MS" ;;
        uflood) run_row "$path" uflood "$round" udp-flood --seconds "$UDP_SECONDS" --size "$UDP_SIZE" --timeout-ms "$UDP_TIMEOUT_MS" ;;
        usink) run_row "$path" usink "$round" udp-flood --seconds "$UDP_SECONDS" --size "$UDP_SIZE" --timeout-ms "$UDP_TIMEOUT_MS" ;;
      esac
    done
  done
  # The codec's figure is printed even while the Stockade rows are n/a: the bound they will meet.
  if [[ " $PATHS " == *" stockade-"* ]] && has_rows "t1 t64"; then codec_row "$round"; fi
done

# --- the table ----------------------------------------------------------------------------------
# med PATH ROW EXPR: median over the rounds of the awk expression EXPR over the line's keys f[].
med() {
  awk -v path="$1" -v row="$2" '
    { delete f; for (i = 1; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v } }
    f["path"] == path && f["row"] == row { x = '"$3"'; if (x != "") print x }
  ' "$results" | sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# total PATH ROW KEY: the sum over the rounds (failure counts).
total() {
  awk -v path="$1" -v row="$2" -v key="$3" '
    { delete f; for (i = 1; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v } }
    f["path"] == path && f["row"] == row && (key in f) { s += f[key]; n++ }
    END { print (n ? s : "-") }' "$results"
}
num() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.*f\n", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }
# The MB/s of a row: bytes moved over wall time, 0 when a stream failed (a partial figure would flatter).
mbps='(f["failed"] == "0" ? f["MBps"] : 0)'
cpu_per_mb='(f["cpu_s"] != "" && f["total_bytes"] > 0 ? 1000 * f["cpu_s"] / (f["total_bytes"] / 1e6) : "")'
codec_ms="$(med codec codec 'f["ms_per_MB"]')"
ref1="$(med v2ray-socks5 t1 "$mbps")"; ref64="$(med v2ray-socks5 t64 "$mbps")"
# lat_cell PATH ROW [PREFIX]: "p50/p99" of the row's PREFIXp50_ms and PREFIXp99_ms medians, ms,
# with " [f N]" (TCP) or " [lost N]" (UDP) when some probes failed over the rounds.
lat_cell() {
  local f tag="f"; f="$(total "$1" "$2" "${3:-}failed")"
  [[ "$2" == u* ]] && tag="lost"
  echo "$(num "$(med "$1" "$2" "f[\"${3:-}p50_ms\"]")" 2)/$(num "$(med "$1" "$2" "f[\"${3:-}p99_ms\"]")" 2)$([ "$f" != 0 ] && [ "$f" != - ] && echo " [$tag $f]")"
}

if has_rows "$TCP_ROWS"; then
echo
echo "Tunnel benchmark: release build, 127.0.0.1, $(nproc) cores shared by tunnels, load tool and source."
echo "Medians of $ROUNDS interleaved rounds. MB/s = 10^6 bytes/s; (x) = ratio to v2ray-socks5's median."
echo "t1: 1 stream of $BYTES_1; t64: 64 streams of $BYTES_64; tz: 1 compressible stream of $BYTES_Z (all incompressible otherwise)."
echo "CPU ms/MB: utime+stime of both ends' tunnel processes per MB in the t1/t64 rows (x codec: t1's ratio to the frame codec)."
echo "Latency: connect (+SOCKS5) + first byte of $COUNT fresh sessions per round, ms, p50/p99 of the probes that succeeded;"
echo "[f N] = probes failed over all rounds (after 5 failures in one run of the tool the rest are not tried and count as failed)."
echo "EOF: the source's last bytes + FIN to the client's EOF, ms."
echo "RSS: tunnel processes (both ends) with $SESSIONS idle sessions open, MiB (+ growth over their RSS before the first round)."
echo
fmt_row="%-16s %-15s %-15s %-9s %-11s %-15s %-21s %-21s %-9s %-14s\n"
printf "$fmt_row" "path" "t1 MB/s" "t64 MB/s" "tz MB/s" "CPU ms/MB" "idle p50/p99" "stalled p50/p99" "bulk p50/p99" "EOF p50" "RSS MiB"
for path in $PATHS; do
  if ! available "$path"; then
    printf "%-16s %s\n" "$path" "n/a (stockade has no mux yet: $stockade_na)"
    continue
  fi
  t1="$(med "$path" t1 "$mbps")"; t64="$(med "$path" t64 "$mbps")"; tz="$(med "$path" tz "$mbps")"
  cpu="$(num "$(med "$path" t1 "$cpu_per_mb")" 2)/$(num "$(med "$path" t64 "$cpu_per_mb")" 2)"
  [ "$cpu" = "-/-" ] && cpu="-"
  [[ "$path" == stockade-* ]] && [ "$codec_ms" != "-" ] && [ "$cpu" != "-" ] &&
    cpu="$cpu ($(ratio "${cpu%%/*}" "$codec_ms") codec)"
  rss="-"
  if [ "$path" != direct ] && has_rows idle; then
    rss="$(num "$(med "$path" idle 'f["rss_kib"] / 1024')" 1) (+$(num "$(med "$path" idle '(f["rss_kib"] - f["base_kib"]) / 1024')" 1))"
    opened="$(med "$path" idle 'f["opened"]')"
    [ "$opened" != "$SESSIONS" ] && rss="$rss [opened $opened]"
  fi
  printf "$fmt_row" "$path" "$(num "$t1" 0) ($(ratio "$t1" "$ref1"))" "$(num "$t64" 0) ($(ratio "$t64" "$ref64"))" \
    "$(num "$tz" 0)" "$cpu" "$(lat_cell "$path" lat)" "$(lat_cell "$path" stalled)" "$(lat_cell "$path" bulk)" \
    "$(num "$(med "$path" eof 'f["p50_ms"]')" 2)" "$rss"
done
[ "$codec_ms" != "-" ] && echo && echo "frame codec (StockadeBench frame, 64 KiB incompressible, snappy on, encode+decode = both ends, CPU time): $(num "$codec_ms" 2) ms/MB; goal: stockade CPU/MB <= 1.25x codec"
echo "goals (issue 7): p50 <= ssh's; idle p99 <= 2 ms; stalled: no failure, p99 <= 2 ms; bulk p99 <= 5 ms; EOF < 1 ms."
fi

if has_rows "$UDP_ROWS"; then
  dps='(f["error"] == "" ? f["dps"] : 0)'
  us_per_dg='(f["cpu_s"] != "" && f["echoed"] > 0 ? 1e6 * f["cpu_s"] / f["echoed"] : "")'
  uref="$(med v2ray-socks5 urate "$dps")"
  echo
  echo "UDP through the tunnels: $UDP_SIZE-byte datagrams to the source's UDP echo; medians of $ROUNDS rounds; (x) = ratio to v2ray-socks5's."
  echo "rtt: $UDP_COUNT echo round trips one outstanding, 1 ms apart, ms p50/p99; [lost N] over all rounds (no echo within ${UDP_TIMEOUT_MS} ms)."
  echo "urate: ${UDP_SECONDS}s with $UDP_WINDOW datagrams outstanding: echoed datagrams/s, loss %, round trips under that load (ms),"
  echo "  CPU of both ends' tunnel processes per echoed datagram (us; each crosses the tunnel twice)."
  echo "flood: one session sending as fast as it can for ${UDP_SECONDS}s into the echo: sent/s, echoed/s, loss % = 1 - echoed/sent;"
  echo "  beside: echo probes on a second session meanwhile. sink: the same flood into a socket that never reads (SOCKS5 paths),"
  echo "  the probes beside it, and the tunnel processes' peak RSS, MiB (+ over their RSS before that flood)."
  echo
  fmt_udp="%-16s %-18s %-15s %-7s %-15s %-7s %-10s %-10s %-8s %-21s %-21s %-14s\n"
  printf "$fmt_udp" "path" "rtt p50/p99" "dgram/s" "loss%" "loaded p50/p99" "us/dg" "flood tx/s" "echoed/s" "loss%" "beside flood" "beside sink" "sink RSS MiB"
  for path in $PATHS; do
    if ! available "$path"; then
      printf "%-16s %s\n" "$path" "n/a (stockade: $stockade_na)"
      continue
    fi
    if [ -z "$(route_args "$path" urtt)" ]; then
      printf "%-16s %s\n" "$path" "- (no UDP: OpenSSH forwards TCP only)"
      continue
    fi
    rate="$(med "$path" urate "$dps")"
    sink="-"; sink_rss="-"
    if [ -n "$(route_args "$path" usink)" ]; then
      sink="$(lat_cell "$path" usink probe_)"
      [ "$path" != direct ] &&
        sink_rss="$(num "$(med "$path" usink 'f["peak_rss_kib"] / 1024')" 1) (+$(num "$(med "$path" usink '(f["peak_rss_kib"] - f["base_kib"]) / 1024')" 1))"
    fi
    printf "$fmt_udp" "$path" "$(lat_cell "$path" urtt)" "$(num "$rate" 0) ($(ratio "$rate" "$uref"))" \
      "$(num "$(med "$path" urate 'f["loss_pct"]')" 2)" "$(num "$(med "$path" urate 'f["p50_ms"]')" 2)/$(num "$(med "$path" urate 'f["p99_ms"]')" 2)" \
      "$(num "$(med "$path" urate "$us_per_dg")" 1)" \
      "$(num "$(med "$path" uflood 'f["sent_per_s"]')" 0)" "$(num "$(med "$path" uflood 'f["echoed_per_s"]')" 0)" \
      "$(num "$(med "$path" uflood 'f["loss_pct"]')" 1)" "$(lat_cell "$path" uflood probe_)" "$sink" "$sink_rss"
  done
fi

if [ "$PERF" = 1 ]; then
  echo
  if [ -s "$work/perf.data" ]; then
    echo "perf (cpu-clock, -g) of $PERF_PATH's tunnel processes during its first 1-stream row, top symbols (self):"
    perf report -i "$work/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null |
      grep -E '^ +[0-9.]+%' > "$work/perf.txt" || true
    head -n 25 "$work/perf.txt"
    echo "by kind (self %): Keccak, AES, snappy, copies (memcpy/memmove, kernel copy_*_user), other kernel (syscalls, TCP), rest"
    awk '{ pct = $1; sub(/%/, "", pct); line = tolower($0)
      if (line ~ /keccak/) k["keccak"] += pct
      else if (line ~ /aes/) k["aes"] += pct
      else if (line ~ /snappy/) k["snappy"] += pct
      else if (line ~ /memcpy|memmove|copy_user|copy_to_|copy_from_|copy_page/) k["copies"] += pct
      else if (line ~ /kernel/) k["kernel"] += pct
      else k["rest"] += pct }
      END { printf "  keccak %.1f%%  aes %.1f%%  snappy %.1f%%  copies %.1f%%  kernel %.1f%%  rest %.1f%%\n",
        k["keccak"], k["aes"], k["snappy"], k["copies"], k["kernel"], k["rest"] }' "$work/perf.txt"
  else
    echo "perf: nothing recorded for $PERF_PATH ($( available "$PERF_PATH" && echo 'see perf.log' || echo 'n/a: stockade has no mux yet'))."
    [ -s "$work/perf.log" ] && tail -n 3 "$work/perf.log"
  fi
fi
if [ -s "$work/tool.err" ] && grep -q '#' "$work/tool.err"; then
  echo
  echo "notes from the load tool (distinct):"
  grep '#' "$work/tool.err" | sort | uniq -c | sort -rn | head -n 15
fi
