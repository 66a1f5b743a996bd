#!/bin/bash
# Fuzzes the import reader (Importer.read(data:label:password:limits:)) with
# libFuzzer and AddressSanitizer, from a seed corpus of the test fixtures.
#   bash scripts/fuzz.sh [SECONDS]        (default 60)
# The corpus grows in .build-fuzz/corpus between runs. A crash, a leak or an
# error other than CertVaultError stops the run, exits 1 and leaves the input
# in .build-fuzz/artifacts: add it to Tests/CertVaultTests/Fixtures/corpus
# with a line in manifest.tsv, so that the suite keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case $seconds in '' | *[!0-9]*)
  echo "error: SECONDS must be a whole number, not '$seconds'" >&2
  exit 2
  ;;
esac
scratch=.build-fuzz
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! CERTVAULT_FUZZ=1 swift build --scratch-path "$scratch" --product certvault-fuzz >"$log" 2>&1; then
  grep -v "warning: Cannot export" "$log" | tail -n 40
  echo "error: the fuzz target does not build" >&2
  exit 1
fi
corpus=$scratch/corpus
artifacts=$scratch/artifacts
mkdir -p "$corpus" "$artifacts"
fixtures=Tests/CertVaultTests/Fixtures
find "$fixtures/corpus" "$fixtures/real-world" "$fixtures/fuzz" -type f \
  ! -name '*.md' ! -name '*.tsv' ! -name '*.sh' -exec cp -n {} "$corpus/" \;
# Leaks are checked after each input; OpenSSL's tables that live until exit are not leaks.
export ASAN_OPTIONS=leak_check_at_exit=0
set +e
"$scratch/debug/certvault-fuzz" -max_total_time="$seconds" -print_final_stats=1 \
  -rss_limit_mb=3072 -artifact_prefix="$artifacts/" "$corpus" 2>&1 | tee "$log" |
  grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^(==|SUMMARY|Done|stat::)|ERROR|Fatal error"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "error: the fuzzer found a failing input (exit $status); it is in $artifacts" >&2
  echo "hint: reproduce with $scratch/debug/certvault-fuzz FILE, then add FILE to $fixtures/corpus" >&2
  exit 1
fi
echo "fuzz: $(ls "$corpus" | wc -l) inputs in the corpus ($corpus)"
