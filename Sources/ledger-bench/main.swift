// ledger-bench: release benchmarks. Each subcommand lives in its own file.
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage: ledger-bench COMMAND [options]

    commands:
      daemon    drive ledgerd over its socket with N concurrent writers (DaemonBench.swift)
    """

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "daemon": exit(DaemonBench.main(Array(arguments.dropFirst())))
case "-h", "--help", "help": print(usage)
default:
    fputs(usage + "\n", stderr)
    exit(2)
}
