// ledger-bench: release benchmarks. Each subcommand lives in its own file.
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage: ledger-bench COMMAND [options]

    commands:
      corpus --count N [--size BYTES | --varied] [--seed S]   write N events as NDJSON to stdout (Corpus.swift)
      core [--count N] [--phase canon|record|read|both]      in-process: canonicalize, seal, read back (CoreBench.swift)
      daemon    drive ledgerd over its socket with N concurrent writers (DaemonBench.swift)
      server    send signed, compressed batches from N simulated hosts to ledger-server (ServerBench.swift)
    """

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "corpus": CorpusCommand.run(Array(arguments.dropFirst()))
case "core": CoreBench.run(Array(arguments.dropFirst()))
case "daemon": exit(DaemonBench.main(Array(arguments.dropFirst())))
case "server":
    do {
        try ServerBench.run(Array(arguments.dropFirst()))
    } catch {
        fputs("ledger-bench server: \(error)\n", stderr)
        exit(1)
    }
case "-h", "--help", "help": print(usage)
default:
    fputs(usage + "\n", stderr)
    exit(2)
}
