#!/usr/bin/env bash
# Makes one vault of the golden corpus (Tests/CertVaultTests/Fixtures/vaults)
# with the certvault binary given: the records every later build must still
# verify. Only commands every released certvault has are used, and the text
# that reaches the signed details is hostile on purpose: file names with a
# quote, a backslash, a slash-free path, a newline, a tab, a control
# character, DEL, U+2028, a BOM and letters past ASCII.
#
#   bash scripts/golden-vault.sh BINARY OUT.db
set -euo pipefail
cv=$(realpath "$1")
out=$(realpath -m "$2")
corpus="$(cd "$(dirname "$0")/.." && pwd)/Tests/CertVaultTests/Fixtures/real-world"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CERTVAULT_VAULT="$work/vault.db" XDG_STATE_HOME="$work/state" CERTVAULT_USER=alice
unset CERTVAULT_FAULT
umask 077
printf 'golden corpus passphrase\n' > "$work/alice.pass"
printf 'golden corpus bob\n' > "$work/bob.pass"
printf 'password\n' > "$work/corpus.pw"
printf 'export password 1\n' > "$work/export.pw"
hostile=$'we\x22ird \\ name\ttab\x01\x7f\u2028\ufeff\u00e9\U0001F600.pfx'
cp "$corpus/ValidCertificatePathTest1EE_windows_aes.p12.pfx" "$work/$hostile"
"$cv" init --admin alice --kdf interactive --passphrase-file "$work/alice.pass"
"$cv" import "$work/$hostile" --alias example.com --purpose ssl --domain example.com \
  --password-file "$work/corpus.pw" --passphrase-file "$work/alice.pass"
"$cv" person add bob --role officer --kdf interactive --name $'Bob \x22the\x22 \\ Officer\n' \
  --passphrase-file "$work/alice.pass" --new-passphrase-file "$work/bob.pass"
"$cv" grant example.com bob --passphrase-file "$work/alice.pass"
"$cv" export example.com --format pfx --for bob --out "$work/$hostile.out.pfx" \
  --password-file "$work/export.pw" --passphrase-file "$work/alice.pass"
"$cv" person depart bob --reason $'left \x22today\x22 \\ \u00e9' --passphrase-file "$work/alice.pass"
# What later builds added, when this one has it.
if "$cv" policy set --help >/dev/null 2>&1; then
  "$cv" new management --subject $'CN=mgmt \u00e9 "q"' --subscription sub-1 --alias mgmt --passphrase-file "$work/alice.pass"
  "$cv" policy set expiry-windows 60,30,7 --passphrase-file "$work/alice.pass"
  if "$cv" rename --help >/dev/null 2>&1; then
    "$cv" rename mgmt mgmt-renamed --passphrase-file "$work/alice.pass"
  fi
  "$cv" backup "$work/$hostile.backup" --passphrase-file "$work/alice.pass"
  "$cv" revoke example.com --reason keyCompromise --destroy-key --yes --passphrase-file "$work/alice.pass"
fi
"$cv" audit verify
cp "$work/vault.db" "$out"
