#!/bin/bash
# Kills every mutating command at every named fault point (CERTVAULT_FAULT);
# with --strace N, also at the first N occurrences of each syscall that
# commits files (rename, renameat2, link, linkat, fsync, fdatasync, unlink,
# unlinkat, ftruncate) through strace's `inject`, and with --strace all at
# every occurrence (counted per thread, as strace counts, from one traced run
# of the command); with --random N, N more kills per command after a random
# delay within the command's own running time. After each kill it checks what
# the user would:
#   - a vault file exists;
#   - `audit verify` exits 0, or names a rollback that `audit accept-rollback`
#     resolves, after which it exits 0;
#   - bob, who departed, cannot export;
#   - no private key lies in the clear anywhere in the directory;
#   - the command can be run again.
# Prints a line per failure and the counts; exits 1 if anything failed.
#   bash scripts/fault-sweep.sh [--strace N|all] [--random N] [BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
strace_max=0
random_runs=0
while [ $# -gt 1 ]; do
  case $1 in
    --strace) strace_max=$2 ;;
    --random) random_runs=$2 ;;
    *) break ;;
  esac
  shift 2
done
cv=${1:-.build/debug/certvault}
cv=$(realpath "$cv")
if CERTVAULT_FAULT=probe "$cv" --version 2>&1 | grep -q "no fault points"; then
  echo "error: $cv was built without fault points" >&2
  echo "hint: build it with CERTVAULT_FAULT_POINTS=1 swift build" >&2
  exit 1
fi
corpus=$(realpath Tests/CertVaultTests/Fixtures/real-world)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The template: alice (admin), bob (officer, departed), carol (officer); web
# and m imported/created, granted to carol; a backup from before bob left.
tpl=$work/template
mkdir -p "$tpl"
export XDG_STATE_HOME=$tpl/state XDG_CONFIG_HOME=$tpl/config CERTVAULT_VAULT=$tpl/v.db
printf 'alice pass phrase\n' >"$tpl/a.pass"
printf 'bob pass phrase\n' >"$tpl/b.pass"
printf 'carol pass phrase\n' >"$tpl/c.pass"
printf 'password' >"$tpl/pw"
chmod 600 "$tpl"/*.pass "$tpl/pw"
p12=$(ls "$corpus"/*firefox*.p12 2>/dev/null | head -1)
A=(--as alice --passphrase-file "$tpl/a.pass")
"$cv" init --admin alice --kdf interactive --passphrase-file "$tpl/a.pass" >/dev/null
"$cv" import "$p12" --alias web --password-file "$tpl/pw" "${A[@]}" >/dev/null 2>&1
for who in bob carol; do
  "$cv" person add "$who" --role officer --kdf interactive --new-passphrase-file "$tpl/${who:0:1}.pass" "${A[@]}" >/dev/null 2>&1
done
"$cv" new management --subject CN=m --alias m "${A[@]}" >/dev/null 2>&1
"$cv" grant web carol "${A[@]}" >/dev/null
"$cv" grant m bob "${A[@]}" >/dev/null
"$cv" backup "$tpl/backup.db" "${A[@]}" >/dev/null
"$cv" person depart bob --reason left "${A[@]}" >/dev/null
"$cv" audit verify >/dev/null || { echo "error: the template does not verify" >&2; exit 1; }
if [ -n "${FAULT_SWEEP_KEEP:-}" ]; then
  mkdir -p "$FAULT_SWEEP_KEEP"
  cp -a "$tpl" "$FAULT_SWEEP_KEEP/template"
fi

commands=(
  "import|import $corpus/GoodCACert.crt --alias again"
  "export|export web --format pfx --generate-password --out out.pfx --for carol"
  "grant|grant m carol"
  "revoke|revoke m --reason keyCompromise"
  "rotate|rotate m"
  "depart|person depart carol --reason left"
  "backup|backup b2.db"
  "restore|restore backup.db --force"
)
points=(change.before-lock change.before-commit change.after-commit backup.copied restore.built restore.linked restore.swapped)

runs=0
kills=0
failures=0
# FAULT_SWEEP_KEEP=DIR keeps a copy of each failed run's directory there.
fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
  if [ -n "${FAULT_SWEEP_KEEP:-}" ]; then
    mkdir -p "$FAULT_SWEEP_KEEP"
    cp -a "$work/run" "$FAULT_SWEEP_KEEP/$failures"
  fi
}

# One kill: copy the template, run the command under `how` (env or strace), check.
sweep() {
  local label=$1 cmd=$2 how=$3 value=$4
  local d=$work/run
  rm -rf "$d"
  cp -a "$tpl" "$d"
  export XDG_STATE_HOME=$d/state XDG_CONFIG_HOME=$d/config CERTVAULT_VAULT=$d/v.db
  cd "$d" || return
  local args
  read -r -a args <<<"$cmd"
  local status
  # In a subshell: the shell's own "Killed" notice stays out of the output.
  if [ "$how" = fault ]; then
    (CERTVAULT_FAULT=$value exec "$cv" "${args[@]}" --as alice --passphrase-file a.pass >out.txt 2>&1) 2>/dev/null
    status=$?
  elif [ "$how" = delay ]; then
    timeout -s KILL "$value" "$cv" "${args[@]}" --as alice --passphrase-file a.pass >out.txt 2>&1
    status=$?
  else
    (exec strace -f -qq -o /dev/null -e inject="$value" "$cv" "${args[@]}" --as alice --passphrase-file a.pass \
      >out.txt 2>&1) 2>/dev/null
    status=$?
  fi
  runs=$((runs + 1))
  # 137: killed at the point; anything else: the command never reached it and finished.
  [ "$status" -eq 137 ] && kills=$((kills + 1))
  [ -f v.db ] || { fail "$label" "no vault file"; cd - >/dev/null; return; }
  if ! "$cv" audit verify >verify.txt 2>&1; then
    if grep -q "rolled back\|another history" verify.txt; then
      "$cv" audit accept-rollback --as alice --passphrase-file a.pass >/dev/null 2>&1
      "$cv" audit verify >verify.txt 2>&1 || fail "$label" "verify after accept-rollback: $(tail -1 verify.txt)"
    else
      fail "$label" "verify: $(grep -m1 error: verify.txt)"
    fi
  fi
  if "$cv" export m --format key --unencrypted --out bob.key --as bob --passphrase-file b.pass >/dev/null 2>&1; then
    fail "$label" "bob, who departed, exported a key"
  fi
  if grep -rlaE -- "-----BEGIN (RSA |EC )?PRIVATE KEY-----" . >/dev/null 2>&1; then
    fail "$label" "a private key in the clear: $(grep -rlaE -- '-----BEGIN (RSA |EC )?PRIVATE KEY-----' . | head -1)"
  fi
  rm -f out.pfx b2.db
  if ! "$cv" "${args[@]}" --as alice --passphrase-file a.pass >again.txt 2>&1; then
    # Done already (the kill came after the commit) is an answer too.
    grep -qE "already|no longer|is revoked|has departed|exists|nothing to|holds no" again.txt ||
      fail "$label" "run again: $(grep -m1 error: again.txt)"
  fi
  cd - >/dev/null || return
}

calls=(rename renameat2 link linkat fsync fdatasync unlink unlinkat ftruncate)

# One unkilled run of a command on a fresh copy: its running time in seconds
# (for --random) and, in $work/trace, every call of `calls` it made.
measure() {
  local cmd=$1 d=$work/measure
  rm -rf "$d"
  cp -a "$tpl" "$d"
  export XDG_STATE_HOME=$d/state XDG_CONFIG_HOME=$d/config CERTVAULT_VAULT=$d/v.db
  local args
  read -r -a args <<<"$cmd"
  local start end
  start=$(date +%s%N)
  (cd "$d" && "$cv" "${args[@]}" --as alice --passphrase-file a.pass >/dev/null 2>&1)
  end=$(date +%s%N)
  elapsed_ms=$(((end - start) / 1000000))
  if [ "$strace_max" = all ]; then
    rm -rf "$d"
    cp -a "$tpl" "$d"
    local traced
    traced=$(
      IFS=,
      echo "${calls[*]}"
    )
    (cd "$d" && strace -f -qq -o "$work/trace" -e trace="$traced" "$cv" "${args[@]}" \
      --as alice --passphrase-file a.pass >/dev/null 2>&1)
  fi
}

# How many times the busiest thread of the traced run made `call`.
occurrences() {
  awk -v call="$1" '{ split($2, name, "("); if (name[1] == call) n[$1]++ }
    END { m = 0; for (t in n) if (n[t] > m) m = n[t]; print m }' "$work/trace"
}

strace_ok=0
if [ "$strace_max" != 0 ] && strace -qq -o /dev/null true 2>/dev/null; then strace_ok=1; fi
for entry in "${commands[@]}"; do
  name=${entry%%|*}
  cmd=${entry#*|}
  measure "$cmd"
  before=$runs
  for point in "${points[@]}"; do sweep "$name@$point" "$cmd" fault "$point" 2>/dev/null; done
  if [ "$strace_ok" = 1 ]; then
    for call in "${calls[@]}"; do
      if [ "$strace_max" = all ]; then count=$(occurrences "$call"); else count=$strace_max; fi
      for n in $(seq 1 "$count"); do sweep "$name@$call#$n" "$cmd" strace "$call:signal=KILL:when=$n" 2>/dev/null; done
    done
  fi
  for _ in $(seq 1 "$random_runs"); do
    delay=$(awk -v ms="$elapsed_ms" -v r="$RANDOM" 'BEGIN { printf "%.3f", (1 + r % (ms + 1)) / 1000 }')
    sweep "$name@${delay}s" "$cmd" delay "$delay" 2>/dev/null
  done
  echo "  $name: $((runs - before)) runs (runs alone in ${elapsed_ms} ms)"
done
echo "fault sweep: $runs runs, $kills of them killed at their point, $failures failures"
[ "$failures" -eq 0 ]
