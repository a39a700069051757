#!/usr/bin/env bash
# Links benchmark, release build, 127.0.0.1 only: the aggregate throughput of several busy peer
# links of one node, with its peer manager's links on one event loop and spread over two
# (`[node] link_threads`, issue 10), side by side in one run.
#
#   ops/bench/links.sh                  3 links, 3 interleaved rounds, about 2-4 minutes
#   ops/bench/links.sh --perf           also perf-record A2's peer manager in the last round
#   LINKS=4 ROUNDS=5 ops/bench/links.sh more links (2..6), more rounds (3..15)
#   BYTES=256M                          bytes each link carries per measurement (default 128M)
#   STREAMS=2                           concurrent sessions per link (default 1)
#   SCRATCH_PATH=.build-x               swift build --scratch-path (default: .build)
#   BIN_DIR=DIR                         use the binaries already built in DIR, build nothing
#
# Set-up: LINKS exit nodes B1..Bn (each `link_threads = 1`: one busy link each), each with the
# service "src" (StockadeTunnelBench's source server) allowed to A's identities; two entry nodes
# A1 (`link_threads = 1`) and A2 (`link_threads = 2`), each with every B as a static node, one
# [[forward]] per B to its "src" and a SOCKS5 entry. A measurement downloads BYTES through every
# link of one A at once (StockadeTunnelBench throughput, one process per link, STREAMS sessions
# each), so every link of that A is busy at the same time: aggregate MB/s = all bytes / the
# slowest link's time; CPU = utime+stime of that A's peer manager (stockade-pm) over the same wall
# time, in cores; and its two busiest threads' shares (from /proc/PID/task), which show whether a
# second loop works. Rows: A1 and A2 through their forwards (a forward's clients are accepted on
# its link's loop), and A2 through its SOCKS5 entry to src.<B>.stk (clients accepted on the run
# loop; the links on the other loop are reached through LoopBridge's socket pair: its cost).
# Within a round the rows take turns, their order turning every round; medians are printed.
#
# What to expect on a small machine: every process here (the Bs' peer managers doing the other
# half of each link's crypto, the source, the clients) shares the same cores. A1's peer manager
# can use at most one core; A2's may use two only if the machine has them free. On 2 cores the
# ratio is bounded by what the Bs and the clients leave over, so it says whether a second loop is
# used at all (its thread's CPU) more than how a dedicated 2-core node would scale.
set -euo pipefail
cd "$(dirname "$0")/../.."

source ops/bench/common.sh
bench_arguments "$@"

SCRATCH_PATH="${SCRATCH_PATH:-.build}"
ROUNDS="${ROUNDS:-3}"
LINKS="${LINKS:-3}"
BYTES="${BYTES:-128M}"
STREAMS="${STREAMS:-1}"
# How long a daemon may take to open its ports and connect its static peers.
START_TIMEOUT=30
# Upper bound on one measurement's client (only stops a wedged one).
RUN_LIMIT=120

for v in ROUNDS LINKS STREAMS; do
  case "${!v}" in ''|*[!0-9]*) echo "$v must be an integer" >&2; exit 2 ;; esac
done
[ "$ROUNDS" -ge 3 ] && [ "$ROUNDS" -le 15 ] || { echo "ROUNDS must be 3..15" >&2; exit 2; }
[ "$LINKS" -ge 2 ] && [ "$LINKS" -le 6 ] || { echo "LINKS must be 2..6" >&2; exit 2; }
[ "$STREAMS" -ge 1 ] && [ "$STREAMS" -le 16 ] || { echo "STREAMS must be 1..16" >&2; exit 2; }

if [ "$PERF" = 1 ] && ! command -v perf > /dev/null; then
  echo "links.sh: installing linux-perf" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends linux-perf > /dev/null
fi

build_release stockade StockadeTunnelBench
tool="$bin/StockadeTunnelBench"

# Ports: the source, each B's listen, each A's listen, and each A's forwards.
read -r -a ports <<< "$("$tool" ports $((1 + LINKS + 2 + 2 * LINKS + 2)))"
SRC=${ports[0]}
b_port() { echo "${ports[$((1 + $1 - 1))]}"; }            # B1..Bn
a_port() { echo "${ports[$((1 + LINKS + $1 - 1))]}"; }     # A1, A2
fwd_port() { echo "${ports[$((1 + LINKS + 2 + ($1 - 1) * LINKS + $2 - 1))]}"; }   # A index, link index
socks_port() { echo "${ports[$((1 + LINKS + 2 + 2 * LINKS + $1 - 1))]}"; }        # A1, A2

"$tool" source --listen "127.0.0.1:$SRC" --lifetime 3600 > "$work/source.out" 2> "$work/source.err" &
started+=($!)
wait_port "$SRC" 10 $! || { echo "the source server did not start" >&2; cat "$work/source.err" >&2; exit 1; }

# new_node_id NAME: a node key in NAME's state dir; prints its node ID (128 hex digits).
new_node_id() {
  local url
  mkdir -p "$work/$1"
  "$bin/stockade" keygen --out "$work/$1/nodekey" > /dev/null
  url="$("$bin/stockade" enode --key "$work/$1/nodekey" | grep -m 1 -o 'enode://[0-9a-f]*')"
  echo "${url#enode://}"
}
# start_node NAME PORT: the daemon with NAME's config and state dir; prints its pid.
start_node() {
  "$bin/stockade" run --config "$work/$1.toml" --state-dir "$work/$1" --listen "127.0.0.1:$2" \
    > "$work/$1.out" 2> "$work/$1.err" &
  echo $!
}

a_ids=("$(new_node_id a1)" "$(new_node_id a2)")
b_ids=()
for i in $(seq 1 "$LINKS"); do b_ids+=("$(new_node_id "b$i")"); done

b_pids=()
for i in $(seq 1 "$LINKS"); do
  cat > "$work/b$i.toml" <<EOF
[node]
link_threads = 1
[workers]
count = 1
[services]
src = "127.0.0.1:$SRC"
[[allow]]
peers = ["${a_ids[0]}", "${a_ids[1]}"]
targets = ["src"]
EOF
  pid="$(start_node "b$i" "$(b_port "$i")")"; started+=("$pid"); b_pids+=("$pid")
done
for i in $(seq 1 "$LINKS"); do
  wait_port "$(b_port "$i")" "$START_TIMEOUT" "${b_pids[$((i - 1))]}" || { echo "B$i did not start" >&2; tail -3 "$work/b$i.err" >&2; exit 1; }
done

a_pids=()
for a in 1 2; do
  {
    echo "[node]"; echo "link_threads = $a"
    echo "[workers]"; echo "count = 1"
    echo "[peers]"
    printf 'static = ['
    for i in $(seq 1 "$LINKS"); do printf '%s"enode://%s@127.0.0.1:%s"' "$([ "$i" = 1 ] || echo ', ')" "${b_ids[$((i - 1))]}" "$(b_port "$i")"; done
    echo ']'
    echo "[socks5]"; echo "listen = \"127.0.0.1:$(socks_port "$a")\""
    for i in $(seq 1 "$LINKS"); do
      echo "[[forward]]"; echo "listen = \"127.0.0.1:$(fwd_port "$a" "$i")\""; echo "peer = \"${b_ids[$((i - 1))]}\""; echo 'target = "src"'
    done
  } > "$work/a$a.toml"
  pid="$(start_node "a$a" "$(a_port "$a")")"; started+=("$pid"); a_pids+=("$pid")
done

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
# pm_of PID: the peer manager (comm stockade-pm) under a daemon.
pm_of() {
  local p
  for p in $(descendants "$1"); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = stockade-pm ]; then echo "$p"; return; fi
  done
}
# Every forward of both As must carry a session before measuring: the static dials take a moment.
for a in 1 2; do
  for i in $(seq 1 "$LINKS"); do
    ok=0
    for _ in $(seq 1 "$START_TIMEOUT"); do
      if timeout -k 2 10 "$tool" throughput --via "forward://127.0.0.1:$(fwd_port "$a" "$i")" --streams 1 --bytes 1K \
           --timeout-ms 2000 2> /dev/null | grep -q ' failed=0'; then ok=1; break; fi
      sleep 1
    done
    [ "$ok" = 1 ] || { echo "A$a's forward to B$i carries nothing after ${START_TIMEOUT}s" >&2; tail -5 "$work/a$a.err" >&2; exit 1; }
  done
done
pm=("$(pm_of "${a_pids[0]}")" "$(pm_of "${a_pids[1]}")")
[ -n "${pm[0]}" ] && [ -n "${pm[1]}" ] || { echo "no peer manager found under A1/A2" >&2; exit 1; }

clk_tck="$(getconf CLK_TCK)"
# ticks PID: utime + stime of a process (fields 14 and 15 of /proc/PID/stat, after the comm).
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# thread_ticks PID: "tid ticks" per thread.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0)"
  done
}
now_ns() { date +%s%N; }

results="$work/results.txt"
: > "$results"
# via A ENTRY I: the throughput tool's route to link I of A through ENTRY (fwd or socks).
via() {
  if [ "$2" = fwd ]; then echo "--via forward://127.0.0.1:$(fwd_port "$1" "$3")"
  else echo "--via socks5://127.0.0.1:$(socks_port "$1") --target src.$(echo "${b_ids[$(($3 - 1))]}" | cut -c1-16).stk:$SRC"; fi
}
# measure ROW ROUND: every link of the row's A at once through the row's entry; appends
# "row round MBps cores busiest second ok" to results.
measure() {
  local row=$1 round=$2 a="${1%%-*}" entry="${1##*-}" i pids=() start end t0 t1 total=0 ok=1 line
  local pmpid="${pm[$((a - 1))]}"
  thread_ticks "$pmpid" > "$work/threads.before"
  t0="$(ticks "$pmpid")"; start="$(now_ns)"
  for i in $(seq 1 "$LINKS"); do
    # shellcheck disable=SC2046
    timeout -k 2 "$RUN_LIMIT" "$tool" throughput $(via "$a" "$entry" "$i") --streams "$STREAMS" \
      --bytes "$BYTES" --timeout-ms 10000 > "$work/run.$i" 2> /dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  end="$(now_ns)"; t1="$(ticks "$pmpid")"
  thread_ticks "$pmpid" > "$work/threads.after"
  for i in $(seq 1 "$LINKS"); do
    line="$(cat "$work/run.$i")"
    [[ "$line" == *" failed=0"* ]] || ok=0
    total=$((total + $(echo "$line" | grep -o 'total_bytes=[0-9]*' | cut -d= -f2 || echo 0)))
  done
  local secs; secs="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }')"
  # The two busiest threads' shares of one core over the same wall time.
  local busy
  busy="$(join <(sort "$work/threads.before") <(sort "$work/threads.after") |
    awk -v hz="$clk_tck" -v s="$secs" '{ print ($3 - $2) / hz / s }' | sort -rn | head -2 | tr '\n' ' ')"
  read -r first second <<< "$busy"
  awk -v a="$row" -v r="$round" -v b="$total" -v s="$secs" -v d="$((t1 - t0))" -v hz="$clk_tck" -v ok="$ok" \
      -v f="${first:-0}" -v g="${second:-0}" \
    'BEGIN { printf "%s %s %.1f %.2f %.2f %.2f %s\n", a, r, b / s / 1e6, d / hz / s, f, g, ok }' >> "$results"
}

ROWS=(1-fwd 2-fwd 2-socks)
for round in $(seq 1 "$ROUNDS"); do
  # The order turns every round: 1 2 3, 2 3 1, 3 1 2, ...
  order=()
  for k in 0 1 2; do order+=("${ROWS[$(((round - 1 + k) % 3))]}"); done
  for row in "${order[@]}"; do
    if [ "$PERF" = 1 ] && [ "$round" = "$ROUNDS" ] && [ "$row" = 2-fwd ]; then
      perf record -g -e cpu-clock -F 499 -p "${pm[1]}" -o "$work/perf.data" 2>/dev/null > /dev/null &
      perf_pid=$!
      sleep 0.5
      measure "$row" "$round"
      kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true
    else
      measure "$row" "$round"
    fi
    echo "round $round $row: $(tail -1 "$results" | awk '{ printf "%s MB/s, %s cores, threads %s + %s%s", $3, $4, $5, $6, ($7 == 1 ? "" : " (some transfer failed)") }')" >&2
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = int((NR + 1) / 2); if (NR % 2) print v[m]; else printf "%.2f\n", (v[m] + v[m + 1]) / 2 }'; }
col() { awk -v a="$1" -v c="$2" '$1 == a { print $c }' "$results" | median; }
failed="$(awk '$7 != 1' "$results" | wc -l)"

echo
echo "Links benchmark: $LINKS links x $STREAMS session(s) x $BYTES each, $ROUNDS interleaved rounds, medians; $(nproc) cores"
printf '%-34s %8s %10s %9s %9s %10s\n' "entry node, links on, via" "MB/s" "pm cores" "thread 1" "thread 2" "vs A1 fwd"
base="$(col 1-fwd 3)"
for row in "1-fwd:A1, 1 loop, forwards" "2-fwd:A2, 2 loops, forwards" "2-socks:A2, 2 loops, SOCKS5 (bridged)"; do
  key="${row%%:*}"; name="${row#*:}"
  mb="$(col "$key" 3)"
  ratio="$(awk -v x="$base" -v y="$mb" 'BEGIN { if (x > 0) printf "%.2f", y / x; else print "n/a" }')"
  printf '%-34s %8s %10s %9s %9s %10s\n' "$name" "$mb" "$(col "$key" 4)" "$(col "$key" 5)" "$(col "$key" 6)" "$ratio"
done
[ "$failed" = 0 ] || echo "($failed measurements had a failed transfer; they count the bytes that arrived)"
if [ "$PERF" = 1 ] && [ -f "$work/perf.data" ]; then
  echo
  echo "perf (A2's peer manager, forwards, last round): samples by thread"
  perf report -i "$work/perf.data" --no-children --sort pid --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -6
  echo "perf: top symbols"
  perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -15 | awk '{ printf "%8s  %s\n", $1, $3 }'
fi
