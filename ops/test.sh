#!/usr/bin/env bash
# The whole test suite: unit and vector tests, end-to-end tests that spawn the real binary's
# processes on 127.0.0.1, the short chaos suite, the independent-peer interop check, and the
# systemd suite under a real systemd (../shared/tools/systemd-harness). Installs what it needs first.
# STOCKADE_SKIP_SYSTEMD=1 skips the systemd suite (it needs root and systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-deps.sh --test

echo "== build" >&2
swift build --build-tests >&2

echo "== swift test (unit, vectors, end-to-end)" >&2
swift test --skip-build

echo "== chaos suite, short (ops/chaos.sh --long for operators)" >&2
bash ops/chaos.sh

echo "== interoperability with an independent RLPx implementation" >&2
bash ops/interop-test.sh

if [ "${STOCKADE_SKIP_SYSTEMD:-0}" != 1 ] && [ -x ops/systemd-test.sh ]; then
  echo "== systemd suite" >&2
  bash ops/systemd-test.sh
fi
