// ledger-bench SUBCOMMAND [options]: benchmarks that need more than `ledgerctl`.
// Add a subcommand: a file with an enum and `run(_:)`, and a line in `commands`.
import Foundation

let commands: [String: ([String]) throws -> Void] = [
    "corpus": CorpusCommand.run,
    "core": CoreBench.run,
    "daemon": { exit(DaemonBench.main($0)) },
    "server": ServerBench.run,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let command = commands[name] else {
    FileHandle.standardError.write(Data("usage: ledger-bench \(commands.keys.sorted().joined(separator: "|")) [options]\n".utf8))
    exit(2)
}
do {
    try command(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("ledger-bench \(name): \(error)\n".utf8))
    exit(1)
}

/// Error output for DaemonBench (daemon branch), kept from its dispatcher.
enum FileHandleless {
    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
