// ledger-relay: flags → LedgerRelay. See `ledger-relay --help` and docs/RELAY.md.
import Glibc
import LedgerRelay

exit(Relay.main(Array(CommandLine.arguments.dropFirst())))
