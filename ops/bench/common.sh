# Shared by the tunnel and links benchmarks (sourced, not run): their flags, the release build, the processes
# a script starts and their cleanup, and waiting for a port. Expects SCRATCH_PATH and, to skip
# the build, BIN_DIR.

# bench_arguments "$@": --perf sets PERF=1; --help prints the script's header comment.
bench_arguments() {
  PERF=0
  local arg
  for arg in "$@"; do
    case "$arg" in
      --perf) PERF=1 ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
  done
}

# build_release PRODUCT...: builds them (or takes BIN_DIR as is) and sets `bin` to their folder.
build_release() {
  if [ -n "${BIN_DIR:-}" ]; then
    bin="$BIN_DIR"
    return
  fi
  echo "== swift build -c release ($(echo "$@" | sed 's/ /, /g'))" >&2
  local product
  for product in "$@"; do
    swift build -c release --scratch-path "$SCRATCH_PATH" --product "$product" >&2
  done
  bin="$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)"
}

# A scratch folder, and every process the script starts (append its pid to `started`), stopped
# by pid on exit: TERM, up to 5 s for them to go, then KILL. Never by name: other daemons on the
# machine are not ours.
work="$(mktemp -d)"
started=()
cleanup() {
  local pid alive
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${started[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_port PORT SECONDS PID: true once something accepts on 127.0.0.1:PORT, false when the time
# passes or PID exits first.
wait_port() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
