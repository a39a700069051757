#!/usr/bin/env bash
# Installs the Debian 12 packages Stockade builds and tests against, only those missing.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

# Build: the system libraries the Swift targets link (Package.swift's .systemLibrary targets).
BUILD_PKGS=(pkg-config libsecp256k1-dev libsnappy-dev libsystemd-dev libseccomp-dev)
# Tests: systemd-socket-activate (systemd), the independent Python peer's venv, openssl for the
# benchmark's reference, procps for ps/pgrep, iproute2 for ss, curl for the SOCKS5 tests,
# openssh-server and openssh-client for `stockade connect` carrying ssh to a private sshd.
TEST_PKGS=(systemd python3-venv openssl procps iproute2 ca-certificates curl openssh-server openssh-client)

want=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--test" ] && want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "stockade: installing missing packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
