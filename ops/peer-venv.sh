#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment that runs Tests/peers/rlpx_peer.py, the
# independent devp2p/RLPx peer: trinity's `p2p` package (py-evm project, PyPI trinity 0.1.0a37)
# plus exactly the libraries its handshake, framing and base protocol import.
#
#   ops/peer-venv.sh            -> prints the venv's python path on stdout (progress on stderr)
#
# Environment:
#   STOCKADE_PEER_VENV    where the venv lives (default /tmp/stockade-peer-venv)
#   STOCKADE_PEER_PYTHON  interpreter to build it from (default: python3.11, else python3)
#
# Why --no-deps with a full pinned closure: trinity 0.1.0a37 declares ~40 dependencies for the
# whole Ethereum client (py-evm, web3, plyvel, uvloop 0.14, ...), many of which no longer build
# on Python 3.11. Its p2p transport needs only the set below. The pins were chosen for CPython
# 3.11 on x86_64 / Linux; every one installs from a wheel (no compiler needed):
#   - safe-pysha3 replaces pysha3 (which does not build on 3.11); it provides the same `sha3`
#     module with keccak_256 objects whose digest() does not finalize, which the RLPx MACs need.
#   - cryptography 3.1.1 and eth-keys 0.3.4 honour trinity's own ranges (<3.2, <0.4).
#   - coincurve 21.0.0 is newer than trinity's <16 (15.x has no 3.11 wheel); eth-keys 0.3.4
#     uses only its stable sign/recover API. Set ECC_BACKEND_CLASS=eth_keys.backends.NativeECCBackend
#     to run with pure-Python secp256k1 instead.
#   - trio 0.22.2 instead of the 0.16 that async-service 0.1.0a11 pins: p2p only imports its
#     MultiError (deprecated in 0.22, removed later), and trio 0.16 monkey-patches
#     traceback.TracebackException in a way that crashes every traceback on Python 3.11.
# Two imports that the p2p package makes but does not need (py-evm's `eth`, trinity's logging
# helper) are stubbed inside rlpx_peer.py, not here: a fresh install needs no manual edits.
set -euo pipefail

VENV="${STOCKADE_PEER_VENV:-/tmp/stockade-peer-venv}"

PINS="
trinity==0.1.0a37
async-generator==1.10
async-service==0.1.0a11
attrs==26.1.0
cached-property==1.5.2
cffi==2.1.1
coincurve==21.0.0
cramjam==2.14.0
cryptography==3.1.1
cytoolz==0.12.3
eth-enr==0.3.0
eth-hash==0.3.3
eth-keys==0.3.4
eth-typing==2.3.0
eth-utils==1.10.0
idna==3.20
mypy-extensions==0.4.3
outcome==1.3.0.post0
pycparser==3.12
pycryptodome==3.24.1
python-snappy==0.7.3
rlp==2.0.1
safe-pysha3==1.0.7
six==1.17.0
sniffio==1.3.1
sortedcontainers==2.4.0
toolz==1.2.0
trio==0.22.2
trio-typing==0.5.1
typing-extensions==4.16.0
"

log() { echo "peer-venv: $*" >&2; }

pick_python() {
    if [ -n "${STOCKADE_PEER_PYTHON:-}" ]; then echo "$STOCKADE_PEER_PYTHON"; return; fi
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
    done
    log "no python3 found (on Debian 12: apt-get install python3 python3-venv)"
    exit 1
}

PYTHON="$(pick_python)"
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$PY_VERSION" != "3.11" ]; then
    # The pins above are wheels for CPython 3.11; other versions may need compilers or break
    # trinity's 2021-era asyncio use. Try anyway, but say so.
    log "warning: $PYTHON is Python $PY_VERSION; the pinned set is tested on 3.11 only"
fi

# A stamp of the pin list and interpreter lets a second run return at once, and a changed pin
# list rebuild the venv from scratch rather than upgrade it in place.
STAMP_WANTED="$(printf '%s\n%s\n' "$PYTHON $PY_VERSION" "$PINS" | sha256sum | cut -d' ' -f1)"
STAMP_FILE="$VENV/.stockade-peer-stamp"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP_WANTED" ]; then
    echo "$VENV/bin/python"
    exit 0
fi

# Debian splits ensurepip (needed by `python3 -m venv`) into python3-venv / python3.11-venv.
if ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing python3-venv (ensurepip is missing)"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${PY_VERSION}-venv" >&2 \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    else
        log "ensurepip is missing: install python3-venv (as root: apt-get install python3-venv)"
        exit 1
    fi
fi

log "creating $VENV with $PYTHON (Python $PY_VERSION)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23" >&2

REQUIREMENTS="$(mktemp)"
trap 'rm -f "$REQUIREMENTS"' EXIT
printf '%s\n' $PINS > "$REQUIREMENTS"
log "installing the pinned set (wheels only, no dependency resolution)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --only-binary=:all: -r "$REQUIREMENTS" >&2

# Fail here, not in a test, if the transport cannot be imported the way rlpx_peer.py does it.
"$VENV/bin/python" -W ignore -c '
import sys, types
sys.modules.setdefault("eth", types.ModuleType("eth"))
import sha3, snappy, rlp, eth_keys, cryptography
assert sha3.keccak_256(b"").hexdigest() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
assert snappy.decompress(snappy.compress(b"stockade" * 8)) == b"stockade" * 8
' >&2

echo "$STAMP_WANTED" > "$STAMP_FILE"
log "ready"
echo "$VENV/bin/python"
