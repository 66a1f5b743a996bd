#!/usr/bin/env bash
# Installs the Debian packages certvault and its tests need, if any is missing.
# Usage: scripts/install-deps.sh [--test]
set -euo pipefail
packages=(libsodium-dev libssl-dev libsqlite3-dev pkg-config openssl)
if [ "${1:-}" = "--test" ]; then
  # The judges of interoperability and the tools tests use to tamper with a vault.
  packages+=(sqlite3 python3 gnutls-bin libnss3-tools zsh fish strace groff-base age chromium libgfshare-bin)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = "--test" ] && ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "installing: python cryptography" >&2
  python3 -m pip install -q cryptography 2>/dev/null || apt-get install -y -qq python3-cryptography >/dev/null
fi
if [ "${1:-}" = "--test" ] && ! python3 -c 'import icalendar' 2>/dev/null; then
  # The judge of the renewal calendar (RFC 5545).
  echo "installing: python icalendar" >&2
  python3 -m pip install -q icalendar 2>/dev/null || apt-get install -y -qq python3-icalendar >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not installed (certvault needs Swift 6)" >&2; exit 1; }
