// ledger-bench: benchmark commands. Each subcommand lives in its own file.
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage: ledger-bench COMMAND [options]
      corpus --count N [--size BYTES | --varied] [--seed S]   write N events as NDJSON to stdout
      core [--count N]                                       in-process: parse, validate, chain, hash (one core)
    """

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "corpus": CorpusCommand.run(Array(arguments.dropFirst()))
case "core": CoreBench.run(Array(arguments.dropFirst()))
default:
    fputs(usage + "\n", stderr)
    exit(2)
}
