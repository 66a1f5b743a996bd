import CertVault

/// The guides a role needs, shipped in the binary (`certvault help
/// officer`); `docs/guides/ROLE.md` holds the same text, and a test keeps
/// the two equal.
enum Guides {
    static let officer = """
        # certvault for the security officer

        You hold the organisation's private keys: you import what a CA sends,
        hand .pfx files to the people who install them, and rotate keys when
        someone leaves. Every command you run that opens a key asks for your
        passphrase and is recorded, signed by you.

        ## Every day

            certvault list --expiring 60            # what ends within 60 days
            certvault check --summary               # one line a rule (also for cron)
            certvault show contoso.com              # one entry, its chain, who holds it

        ## A certificate arrives from the CA

            certvault import contoso.pfx --purpose ssl --domain contoso.com --alias contoso.com
            certvault import issued.cer             # completes the request 'certvault csr' made

        A .pfx given as base64 text (a Key Vault secret, a CI variable) is
        imported as it is. --alias and --domain go to the certificate whose
        key is in the file, never to the CA certificates beside it.

        ## Hand a key to someone

            certvault export contoso.com --target app-service --for bob \\
                --generate-password --out contoso-for-bob.pfx
            certvault inspect contoso-for-bob.pfx --target app-service

        --target picks the format a destination reads ('certvault help
        targets'); --for names the person the file is for (recorded, with the
        file's SHA-256). The generated password is printed once, on stderr:
        give it to bob by another way than the file.

        Better still, hand it to bob's public key: once bob has run
        age-keygen and given you the public key it printed,

            certvault person set bob --age-recipient age1...
            certvault export contoso.com --target app-service --for bob \
                --generate-password --out contoso-for-bob.pfx.age

        writes the file encrypted to that key (age -d -i bob.key opens it),
        so it can travel by mail or chat.

        ## Ten exports in a row

            certvault shell                         # one passphrase, then commands as above
            certvault alice> export web1 --target app-service --for bob --out web1.pfx
            certvault alice> lock                   # or wait 5 minutes; exit leaves

        ## Renewals in your calendar

            certvault list --ics > renewals.ics     # one event per renewal, alarms at the policy's windows

        ## A new key for Azure

            certvault new app-credential --subject CN=contoso-deploy --app-id APP-ID
            certvault export contoso-deploy --format cer --out contoso-deploy.cer
            certvault csr --subject CN=www.contoso.com --dns www.contoso.com --out www.csr

        ## Rotation

            certvault rotate ALIAS                  # a self-signed one: a new key and certificate
            certvault rotate ALIAS --out new.csr    # a CA's: a new key and request, same alias
            certvault revoke OLD --reason superseded   # once the CA has revoked the old one
            certvault retire OLD                    # once it is removed from Azure

        'certvault check' warns until each step is done (needs-rotation,
        superseded-exposed, superseded-not-retired).

        ## When something is wrong

        Every error is one 'error:' line with a 'hint:' when the fix is known;
        the exit code says which kind ('certvault help exit-codes'). Exit 5
        means the vault does not match its signed records: stop, and call an
        auditor ('certvault audit verify').
        """

    static let auditor = """
        # certvault for the auditor

        You answer "who touched this key?" and "can I trust this answer?".
        You need no passphrase: an auditor opens no key, and every command
        below reads the vault without changing it.

        ## Who touched a certificate

            certvault audit who contoso.com         # who can open it, who ever could, who was handed a copy
            certvault audit log --entry contoso.com # every record about it, oldest first
            certvault audit log --action entry.export --since 2026-01-01

        Each record names the person who acted, what they did and when; an
        export names the recipient and the SHA-256 of the file written.

        ## Is the log whole

            certvault audit verify                  # every record's hash, place and signature
            certvault audit verify --expect SEQ:HASH   # and it still holds the head you noted

        Every record is signed by the person who acted and chained to the
        one before; the vault's tables are checked against what the records
        say. Exit 0 means all of it holds; exit 5 names the first record
        that does not. Note the head ('SEQ:HASH') in your working papers:
        a vault later rolled back to an older copy, or rewritten, no longer
        matches it.

        ## Off the machine

        An audit sink (a file only root may write, or syslog) receives each
        record as it is written, before the change it records goes on:

            certvault audit sink list
            certvault audit verify --against /var/log/certvault/vault.jsonl

        ## For the file

            certvault report --out report.html      # one page: entries, people, activity, findings
            certvault check --json > findings.json
            certvault person list
            certvault person show dave              # what dave can open, ever could, was handed

        ## What an exit code means

        0 all holds, 3 findings (check), 5 the vault does not match its
        signed records or was rolled back; 'certvault help exit-codes' has
        the table.
        """

    static let admin = """
        # certvault for the admin

        You keep the vault: its people, its policy, its backups. An admin
        can open every key (each new admin receives them all), so keep the
        number of admins small, and never fewer than two.

        ## Start

            certvault init --admin alice --name "Alice Officer"
            certvault person add carol --role admin --name "Carol Second"

        The first passphrase is asked twice; a weak one is refused. A second
        admin is the way back when the first forgets their passphrase.

        ## People

            certvault person add bob --role officer  # officer: opens what is granted
            certvault person add dave --role staff   # staff: receives files, opens nothing
            certvault person add erin --role auditor # auditor: reads the log
            certvault grant contoso.com bob
            certvault person set-role bob admin

        Each person sets their own passphrase ('certvault person passwd').

        ## Someone leaves

            certvault person depart dave --reason "left" --dry-run   # the plan, nothing changed
            certvault person depart dave --reason "left"             # access ends now
            certvault person depart dave --reason "left" --rotate    # and the self-signed keys rotate

        The plan lists every entry dave could ever open or was handed a copy
        of, what to do about each, and who is left holding it. A copy of the
        vault taken before today still opens with dave's old passphrase:
        rotate what the plan lists, and 'certvault check' says what is left.

        ## Backups

            certvault backup /backups/vault-$(date +%F).db
            certvault restore /backups/vault-2026-12-01.db

        A backup is verified before it is kept; a restore verifies it again,
        keeps the replaced file as VAULT.before-restore, and makes again
        every departure, revocation and retirement the backup does not
        hold. Restoring an older backup is a rollback, accepted in a signed
        record.

        ## Policy and the audit trail

            certvault policy show
            certvault policy set expiry-windows 60,30,7
            certvault audit sink add file /var/log/certvault/vault.jsonl

        ## For cron

            certvault check --quiet --fail-on warning || mail -s "certvault" security@example.org

        'certvault help exit-codes' says what each exit code means.
        """
}

extension HelpTopic {
    /// Every export target: what it is, what certvault writes for it, why.
    static var targetsText: String {
        var lines = [
            "Export targets ('certvault export REF --target T', 'certvault inspect FILE --target T'):", "",
        ]
        let width = ExportTarget.allCases.map(\.rawValue.count).max() ?? 0
        for target in ExportTarget.allCases {
            let r = target.requirements
            let written =
                r.exportFormat == .pfx ? ".pfx, \(r.exportProfile.rawValue) profile" : r.exportFormat.rawValue
            lines.append("  \(target.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \(r.title)")
            lines.append("  \(String(repeating: " ", count: width))  writes: \(written); \(r.basis)")
        }
        lines.append("")
        lines.append("'certvault inspect FILE' says which targets a file suits, and why not the others.")
        return lines.joined(separator: "\n")
    }

    /// Every rule `check` applies, with what it finds.
    static var rulesText: String {
        let width = PolicyRule.allCases.map(\.rawValue.count).max() ?? 0
        return
            (["Rules of 'certvault check' (--rule R picks some):", ""]
            + PolicyRule.allCases.map {
                "  \($0.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.summary)"
            }).joined(separator: "\n")
    }
}
