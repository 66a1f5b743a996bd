import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

// Secrets live in this process's memory: never let them reach a core file,
// and make every file this process creates private to its owner.
// No interactive crash report (it can print any memory, keys included).
TerminalHold.crashReportsOff()
SecretEnvironment.capture()
SecretInput.disableCoreDumps()
umask(0o077)
CLI.main(Array(CommandLine.arguments.dropFirst()))
