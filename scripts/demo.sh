#!/usr/bin/env bash
# certvault's main job, end to end, in a temporary directory: what a security
# officer does. Installs the system packages it needs if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product certvault >&2
cv="$PWD/.build/release/certvault"
corpus="$PWD/Tests/CertVaultTests/Fixtures/real-world"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CERTVAULT_VAULT="$work/vault/vault.db"
# The rollback witness (the last audit head this machine saw) goes with the demo too.
export XDG_STATE_HOME="$work/state"
# Passphrases come from files here so the demo runs unattended; at a terminal
# certvault asks for them with echo off. They are never given on the command line.
umask 077
printf 'tulip orbit canyon walrus\n' > "$work/alice.pass"
printf 'password\n' > "$work/corpus.pw"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step certvault init --admin alice --name "Alice Officer"
"$cv" init --admin alice --name "Alice Officer" --passphrase-file "$work/alice.pass"

step certvault import ValidCertificatePathTest1EE_windows_tdes.p12.pfx --alias contoso.com --purpose ssl --domain contoso.com
"$cv" import "$corpus/ValidCertificatePathTest1EE_windows_tdes.p12.pfx" --alias contoso.com --purpose ssl \
  --domain contoso.com --password-file "$work/corpus.pw" --passphrase-file "$work/alice.pass"

step certvault person add bob --role staff --name "Bob Webadmin"
"$cv" person add bob --role staff --name "Bob Webadmin" --passphrase-file "$work/alice.pass"

step certvault list
"$cv" list

step certvault show contoso.com
"$cv" show contoso.com

step certvault export contoso.com --target app-service --for bob --generate-password --out contoso.pfx
"$cv" export contoso.com --target app-service --for bob --generate-password \
  --out "$work/contoso.pfx" --passphrase-file "$work/alice.pass" 2> "$work/export.err"
cat "$work/export.err" >&2
sed -n 's/.*(shown once): //p' "$work/export.err" > "$work/contoso.pw"

step openssl pkcs12 -info -in contoso.pfx   "# the judge: another tool reads what certvault wrote"
openssl pkcs12 -in "$work/contoso.pfx" -passin file:"$work/contoso.pw" -info -noout

step certvault inspect contoso.pfx --target app-service   "# will Azure App Service read it? (exit 3 if not)"
"$cv" inspect "$work/contoso.pfx" --password-file "$work/contoso.pw" --target app-service

step certvault export contoso.com --format cer --out contoso.cer
"$cv" export contoso.com --format cer --out "$work/contoso.cer"
openssl x509 -inform der -in "$work/contoso.cer" -noout -subject -fingerprint -sha1

step certvault new management --subject "CN=contoso-mgmt,O=Contoso" --subscription 0000-demo
"$cv" new management --subject "CN=contoso-mgmt,O=Contoso" --subscription 0000-demo --passphrase-file "$work/alice.pass"
"$cv" export contoso-mgmt --format cer --out "$work/contoso-mgmt.cer"
openssl x509 -inform der -in "$work/contoso-mgmt.cer" -noout -text | grep -E 'Public-Key|Signature Algorithm|Client Auth' | sort -u

step certvault audit log
"$cv" audit log

step certvault audit verify
"$cv" audit verify
