#!/bin/bash
# Issue 26's "30 entries against 230 import records": N rounds (default 200)
# of one import beside two concurrent `list --json`; after each round the
# entries listed, the `entry.import` records and the rounds so far must agree.
#   bash scripts/stress-imports.sh [ROUNDS] [BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
cv=$(realpath "${2:-.build/debug/certvault}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config CERTVAULT_VAULT=$work/v.db
printf 'alice pass phrase\n' >a.pass
printf password >pw
chmod 600 a.pass pw
"$cv" init --admin alice --kdf interactive --passphrase-file a.pass >/dev/null
count() { python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
bad=0
lists=0
for i in $(seq 1 "$rounds"); do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem \
    -subj "/CN=s$i.example" -days 30 2>/dev/null
  openssl pkcs12 -export -inkey k.pem -in c.pem -out p.pfx -passout pass:password 2>/dev/null
  ("$cv" import p.pfx --password-file pw --passphrase-file a.pass >/dev/null 2>&1; echo $? >rc) &
  for _ in 1 2; do
    "$cv" list --json >/dev/null 2>l.err || { echo "round $i: list failed: $(cat l.err)"; bad=$((bad + 1)); }
    lists=$((lists + 1))
  done
  wait
  [ "$(cat rc)" = 0 ] || { echo "round $i: import exited $(cat rc)"; bad=$((bad + 1)); }
  entries=$("$cv" list --json | count)
  records=$("$cv" audit log --action entry.import --json | count)
  if [ "$entries" != "$records" ] || [ "$entries" != "$i" ]; then
    echo "round $i: $entries entries, $records import records"
    bad=$((bad + 1))
  fi
done
echo "stress: $rounds rounds, $lists concurrent lists, $bad mismatches or failures"
[ "$bad" -eq 0 ]
