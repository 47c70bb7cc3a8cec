// ledger-bench: release benchmarks. Each subcommand lives in its own file.
import Glibc

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    usage: ledger-bench COMMAND [options]

    commands:
      daemon    drive ledgerd over its socket with N concurrent writers (DaemonBench.swift)
    """

switch arguments.first {
case "daemon": exit(DaemonBench.main(Array(arguments.dropFirst())))
case "-h", "--help", "help": print(usage); exit(0)
default:
    FileHandleless.stderr(usage)
    exit(2)
}

enum FileHandleless {
    static func stderr(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
