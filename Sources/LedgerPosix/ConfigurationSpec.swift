// The declarative command line of one executable: its options, the
// generated --help, and parsing with the precedence
//
//   command line  >  environment  >  EnvironmentFile  >  default
//
// Parsing validates only the value that wins for each option; a bad value
// hidden by a higher-precedence source is not reported.

/// What an executable accepts. Build one per program and call `parse`.
///
///     let spec = ConfigurationSpec(
///         program: "ledgerd", summary: "Ledger host daemon.",
///         options: [
///             ConfigOption("config", env: "LEDGER_CONFIG", default: "/etc/ledger/ledger.env",
///                          valueName: "FILE", help: "EnvironmentFile with LEDGER_* settings"),
///             ConfigOption("data-dir", env: "LEDGER_DATA_DIR", default: "/var/lib/ledger",
///                          valueName: "DIR", help: "journal directory"),
///             ConfigOption("max-size", env: "LEDGER_MAX_SIZE", kind: .byteSize, default: "10GiB",
///                          help: "journal size limit"),
///         ],
///         configFileOption: "config")
///     let config = try spec.parse(Array(CommandLine.arguments.dropFirst()))
///     if config.helpRequested { print(spec.helpText(), terminator: ""); exit(0) }
public struct ConfigurationSpec: Sendable {
    public let program: String
    /// What follows the program name in the usage line, e.g. `[options] COMMAND [ARGS...]`.
    public let synopsis: String
    /// A sentence or two for `--help`.
    public let summary: String
    public let options: [ConfigOption]
    /// The name of the string option that holds the EnvironmentFile path, if any.
    /// If that path comes from the default and the file does not exist, the file
    /// is skipped; if it was given explicitly, a missing file is an error.
    public let configFileOption: String?

    public init(
        program: String, synopsis: String = "[options]", summary: String, options: [ConfigOption],
        configFileOption: String? = nil
    ) {
        let names = options.map(\.name)
        precondition(Set(names).count == names.count, "duplicate option names in \(program)")
        if let configFileOption {
            precondition(
                options.contains { $0.name == configFileOption && $0.kind == .string },
                "configFileOption '\(configFileOption)' is not a declared string option")
        }
        self.program = program
        self.synopsis = synopsis
        self.summary = summary
        self.options = options
        self.configFileOption = configFileOption
    }

    /// Parses `arguments` (without the program name). Options may come before,
    /// between or after positional arguments; `--` ends options. `--help` or
    /// `-h` anywhere before `--` returns a configuration with `helpRequested`
    /// set and defaults only, even if other arguments are wrong.
    public func parse(
        _ arguments: [String], environment: [String: String] = Environment.current()
    ) throws -> Configuration {
        let kinds = Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0.kind) })
        let beforeSeparator = arguments.prefix { $0 != "--" }
        if beforeSeparator.contains("--help") || beforeSeparator.contains("-h") {
            return try resolve(commandLine: [:], environment: [:], file: nil, positionals: [], kinds: kinds, help: true)
        }
        var commandLine: [String: String] = [:]
        var positionals: [String] = []
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || argument == "-" || !argument.hasPrefix("-") {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            let body = argument.hasPrefix("--") ? argument.dropFirst(2) : argument.dropFirst()
            let name = String(body.prefix { $0 != "=" })
            let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            guard argument.hasPrefix("--"), let option = options.first(where: { $0.name == name }) else {
                let shown = argument.hasPrefix("--") ? "--\(name)" : argument
                throw ConfigurationError.unknownOption(shown, program: program, suggestion: suggestion(for: name))
            }
            if let inline {
                commandLine[name] = inline
            } else if option.kind == .flag {
                commandLine[name] = "true"
            } else {
                guard index < arguments.count else { throw ConfigurationError.missingValue(option: "--\(name)") }
                commandLine[name] = arguments[index]
                index += 1
            }
        }
        let file = try loadFile(commandLine: commandLine, environment: environment)
        return try resolve(
            commandLine: commandLine, environment: environment, file: file, positionals: positionals, kinds: kinds,
            help: false)
    }

    /// The `--help` text: usage line, summary, one line per option with its
    /// default and variable, and the size and duration syntax when used.
    public func helpText() -> String {
        var rows: [(String, String)] = options.map { option in
            var notes: [String] = []
            if let value = option.defaultValue { notes.append("default: \(value)") }
            if let env = option.environment { notes.append("env: \(env)") }
            let help = notes.isEmpty ? option.help : "\(option.help) [\(notes.joined(separator: "; "))]"
            return ("  " + option.synopsis, help)
        }
        rows.append(("  -h, --help", "Show this help and exit."))
        // Align the help column; a very long flag gets its help on the next line.
        let width = min(rows.map(\.0.count).max() ?? 0, 32) + 2
        var text = "Usage: \(program) \(synopsis)\n\n\(summary)\n\nOptions:\n"
        for (left, right) in rows {
            let gap = left.count < width
                ? String(repeating: " ", count: width - left.count)
                : "\n" + String(repeating: " ", count: width)
            text += left + gap + right + "\n"
        }
        let kinds = Set(options.map(\.kind))
        if kinds.contains(.byteSize) || kinds.contains(.duration) { text += "\n" }
        if kinds.contains(.byteSize) {
            text += "Sizes: 4096, 512KiB, 512MiB, 10GiB (powers of 1024) or 4MB (powers of 1000).\n"
        }
        if kinds.contains(.duration) { text += "Durations: 200ms, 30s, 5m, 12h, 7d, 1h30m.\n" }
        return text
    }

    /// The EnvironmentFile named by `configFileOption`, if it applies.
    private func loadFile(commandLine: [String: String], environment: [String: String]) throws -> EnvironmentFile? {
        guard let name = configFileOption, let option = options.first(where: { $0.name == name }) else { return nil }
        let fromEnvironment = option.environment.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        let explicit = commandLine[name] ?? fromEnvironment
        guard let path = explicit ?? option.defaultValue, !path.isEmpty else { return nil }
        if explicit == nil, !FileSystem.exists(path) { return nil }
        return try EnvironmentFile.load(path)
    }

    /// Picks each option's winning source and parses its value.
    private func resolve(
        commandLine: [String: String], environment: [String: String], file: EnvironmentFile?, positionals: [String],
        kinds: [String: ConfigOption.Kind], help: Bool
    ) throws -> Configuration {
        var values: [String: (raw: String, value: ConfigValue, source: ValueSource)] = [:]
        for option in options {
            let candidate: (String, ValueSource)?
            if let value = commandLine[option.name] {
                candidate = (value, .commandLine)
            } else if let env = option.environment, let value = environment[env], !value.isEmpty {
                // An empty variable counts as unset: units often carry `Environment=X=` placeholders.
                candidate = (value, .environment(env))
            } else if let env = option.environment, let file, let entry = file.entries[env], !entry.value.isEmpty {
                candidate = (entry.value, .file(path: file.path, line: entry.line))
            } else if let value = option.defaultValue {
                candidate = (value, .defaultValue)
            } else {
                candidate = nil
            }
            guard let (raw, source) = candidate else { continue }
            guard let value = ConfigValueParser.parse(raw, as: option.kind) else {
                throw ConfigurationError.invalidValue(
                    option: "--\(option.name)", value: raw, source: source.description, expected: option.kind.expectation)
            }
            values[option.name] = (raw, value, source)
        }
        return Configuration(
            program: program, kinds: kinds, values: values, positionals: positionals, helpRequested: help)
    }

    /// The declared option closest to a mistyped one (edit distance at most 2).
    private func suggestion(for name: String) -> String? {
        let scored = options.map { ($0.name, editDistance(Array(name.utf8), Array($0.name.utf8))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, !name.isEmpty else { return nil }
        return "--\(best.0)"
    }

    private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
