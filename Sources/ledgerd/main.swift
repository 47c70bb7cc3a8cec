import Glibc
import LedgerDaemon

exit(Daemon.main(Array(CommandLine.arguments.dropFirst())))
