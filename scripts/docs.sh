#!/bin/bash
# Builds the library's documentation (DocC) from its symbol graph and the
# articles in Sources/CertVault/CertVault.docc. Any DocC warning — a broken
# symbol link, an unknown topic — fails the build.
#   bash scripts/docs.sh [OUTPUT-DIR]     (default .build/docs/CertVault.doccarchive)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/docs/CertVault.doccarchive}
graphs=$(mktemp -d)
trap 'rm -rf "$graphs"' EXIT
swift build --target CertVault \
  -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs" >/dev/null
# Only our module's graphs: GRDB's and the C modules' are not ours to document.
find "$graphs" -type f ! -name 'CertVault*' -delete
rm -rf "$out"
mkdir -p "$(dirname "$out")"
docc convert Sources/CertVault/CertVault.docc \
  --additional-symbol-graph-dir "$graphs" \
  --fallback-display-name CertVault \
  --fallback-bundle-identifier org.certvault.CertVault \
  --output-path "$out" \
  --transform-for-static-hosting \
  --warnings-as-errors
echo "documentation: $out"
