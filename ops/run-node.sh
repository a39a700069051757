#!/usr/bin/env bash
# The main job: build Stockade (release) and run a node with the embedded default
# configuration (listens on 127.0.0.1:30303, node key in ./.stockade-state). Extra arguments go
# to `stockade run` (see `stockade run --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-deps.sh
swift build -c release --product stockade >&2
exec .build/release/stockade run --state-dir "${STOCKADE_STATE_DIR:-.stockade-state}" "$@"
