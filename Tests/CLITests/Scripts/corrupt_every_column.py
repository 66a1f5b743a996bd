#!/usr/bin/env python3
"""Alters every column of every certvault table, one at a time, and runs
every read command on the altered copy.

Usage: corrupt_every_column.py CERTVAULT VAULT WORKDIR ENTRY_REF

For each (table, column, variant) the pristine vault is copied, the value is
set by hand as an attacker with sqlite3 would (append-only triggers dropped
and put back exactly), and `list`, `show`, `audit log`, `audit verify` and
`export --format cer` run on the copy. A command may succeed where the
change does not concern it, but it must never die of a signal or a Swift
trap, and a failure must say `error:` and exit 1 or 3. `audit verify` must
notice every change that took effect (exit 3).

Prints one JSON object: counts and the list of problems.
"""
import json, os, shutil, sqlite3, subprocess, sys

binary, pristine, work, ref = sys.argv[1:5]
env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")}
env["XDG_STATE_HOME"] = os.path.join(work, "state")  # a fresh witness per copy, see below

VARIANTS = [
    ("NULL", "NULL"),
    ("wrong type (text)", "'not-a-value'"),
    ("wrong type (blob)", "x'00ff'"),
    ("out of range", "-1"),
    ("out of range (huge)", "9223372036854775807"),
    ("invalid UTF-8", "CAST(x'ff41fe' AS TEXT)"),
]
COMMANDS = [
    ["list"],
    ["list", "--json"],
    ["show", ref],
    ["audit", "log"],
    ["audit", "verify"],
    ["export", ref, "--format", "cer", "--out", "OUT"],
]


def tables(db):
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'grdb_migrations' ORDER BY name")]
    return [(t, [r[1] for r in db.execute(f"PRAGMA table_info({t})")]) for t in names]


def snapshot(db, table):
    return db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


def mutate(path, table, column, expression):
    db = sqlite3.connect(path, isolation_level=None)
    triggers = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")]
    for name in ("audit_no_update", "audit_no_delete", "custody_no_delete"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("PRAGMA ignore_check_constraints = ON")
    before = snapshot(db, table)
    try:
        db.execute(f"UPDATE {table} SET {column} = {expression}")
        changed = snapshot(db, table) != before
    except sqlite3.Error as e:
        changed = None  # a NOT NULL or UNIQUE constraint: not possible without a schema change
    for sql in triggers:
        db.execute(sql)
    db.close()
    return changed


pristine_db = sqlite3.connect(pristine)
layout = tables(pristine_db)
pristine_db.close()

report = {"mutations": 0, "effective": 0, "skipped": 0, "runs": 0, "problems": []}
for table, columns in layout:
    for column in columns:
        for label, expression in VARIANTS:
            case = os.path.join(work, "case")
            shutil.rmtree(case, ignore_errors=True)
            os.makedirs(case)
            vault = os.path.join(case, "vault.db")
            shutil.copy(pristine, vault)
            changed = mutate(vault, table, column, expression)
            report["mutations"] += 1
            if not changed:
                report["skipped"] += 1
                continue
            report["effective"] += 1
            what = f"{table}.{column} = {label}"
            for command in COMMANDS:
                args = [a if a != "OUT" else os.path.join(case, "out.cer") for a in command]
                run_env = dict(env, CERTVAULT_VAULT=vault, XDG_STATE_HOME=os.path.join(case, "state"))
                p = subprocess.run([binary] + args, env=run_env, capture_output=True, text=True, errors="replace", timeout=60)
                report["runs"] += 1
                err = p.stderr
                name = " ".join(command[:2])
                if p.returncode < 0 or p.returncode >= 128 or "Fatal error" in err or "Trace/breakpoint" in err:
                    report["problems"].append(f"{what}: {name} crashed (status {p.returncode}): {err[-300:]}")
                elif p.returncode != 0 and (p.returncode not in (1, 5) or "error:" not in err):
                    report["problems"].append(f"{what}: {name} exited {p.returncode} without an error line: {err[-300:]}")
                elif command[:2] == ["audit", "verify"] and p.returncode != 5:
                    report["problems"].append(f"{what}: audit verify exited {p.returncode}, not 5")
print(json.dumps(report))
