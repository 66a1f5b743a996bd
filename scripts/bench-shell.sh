#!/usr/bin/env bash
# Ten exports from the command line (ten unlocks) against ten in one shell (one unlock), at the default KDF cost.
set -euo pipefail
B=${1:-.build/release/certvault}
d=$(mktemp -d); export CERTVAULT_VAULT=$d/v.db XDG_STATE_HOME=$d/state XDG_CONFIG_HOME=$d/config
printf 'Quokka-Trellis-Banjo-47\n' > $d/pp; chmod 600 $d/pp
printf 'File-Password-Walrus-99\n' > $d/fp; chmod 600 $d/fp
$B init --admin alice --passphrase-file $d/pp >/dev/null
for i in $(seq 1 10); do $B new management --subject CN=m$i --alias m$i --passphrase-file $d/pp >/dev/null 2>&1; done
t0=$(date +%s.%N)
for i in $(seq 1 10); do $B export m$i --format pfx --password-file $d/fp --out $d/cli$i.pfx --passphrase-file $d/pp >/dev/null 2>&1; done
t1=$(date +%s.%N)
for i in $(seq 1 10); do echo "export m$i --format pfx --password-file $d/fp --out $d/sh$i.pfx"; done | $B shell --passphrase-file $d/pp >/dev/null 2>&1
t2=$(date +%s.%N)
echo "ten exports, KDF moderate: command line $(echo "$t1 - $t0" | bc) s (ten unlocks), shell $(echo "$t2 - $t1" | bc) s (one unlock)"
ls $d/sh*.pfx | wc -l
rm -rf $d
