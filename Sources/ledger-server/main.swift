// ledger-server: flags → LedgerServer. See `ledger-server --help` and docs/SERVER.md.
import Foundation
import LedgerServer

exit(ServerCommandLine.run(Array(CommandLine.arguments.dropFirst())))
