#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl`: the command line. Each subcommand lives in Commands/.
public enum LedgerCTL {
    static let usage = """
        usage: ledgerctl COMMAND [options]

        commands:
          canon     NDJSON on stdin → RFC 8785 canonical NDJSON on stdout
          verify    verify an NDJSON export (hashes, chains, host streams)
          keygen    create an Ed25519 host key (file mode 0600), print the public key
          send      NDJSON on stdin → ledgerd's socket; prints the responses
          status    ledgerd's chains, journal, backlog, disk cap and connections
          export    the host journal as an NDJSON export
          tail      the last records of the host journal; -f follows new ones

        Run `ledgerctl COMMAND --help` for a command's options.
        """

    public static func main(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        signal(SIGPIPE, SIG_IGN)
        guard let command = arguments.first else {
            printError(usage)
            exit(2)
        }
        let rest = Array(arguments.dropFirst())
        do {
            let status: Int32
            switch command {
            case "canon": status = try CanonCommand.run(rest)
            case "verify": status = try VerifyCommand.run(rest)
            case "keygen": status = try KeygenCommand.run(rest)
            case "send": status = try SendCommand.run(rest)
            case "status": status = try StatusCommand.run(rest)
            case "export": status = try ExportCommand.run(rest)
            case "tail": status = try TailCommand.run(rest)
            case "-h", "--help", "help": print(usage); status = 0
            default:
                printError("ledgerctl: unknown command \(command)\n\n\(usage)")
                status = 2
            }
            exit(status)
        } catch let error as CLIError {
            printError(error.description)
            exit(error.status)
        } catch {
            printError("ledgerctl \(command): \(error)")
            exit(1)
        }
    }
}
