// The settings one executable runs with, after `ConfigurationSpec.parse`
// merged the command line, the environment, the EnvironmentFile and the
// defaults. Every value was validated during parsing, so the accessors cannot
// fail; asking for an undeclared option or with the wrong kind is a
// programming error and traps.

/// Where an option's value came from.
public enum ValueSource: Hashable, Sendable, CustomStringConvertible {
    case commandLine
    case environment(String)
    case file(path: String, line: Int)
    case defaultValue

    public var description: String {
        switch self {
        case .commandLine: return "command line"
        case .environment(let name): return "environment variable \(name)"
        case .file(let path, let line): return "\(path):\(line)"
        case .defaultValue: return "default"
        }
    }
}

/// Parsed settings: typed accessors by option name (without dashes), plus the
/// positional arguments (e.g. a subcommand and its operands) in order.
public struct Configuration: Sendable {
    public let program: String
    /// `--help` or `-h` was given: print `spec.helpText()` and exit 0.
    public let helpRequested: Bool
    /// Non-option arguments in order, e.g. `["hosts", "add", "ID", "KEY"]`.
    public let positionals: [String]

    private let kinds: [String: ConfigOption.Kind]
    private let values: [String: (raw: String, value: ConfigValue, source: ValueSource)]

    init(
        program: String, kinds: [String: ConfigOption.Kind],
        values: [String: (raw: String, value: ConfigValue, source: ValueSource)], positionals: [String],
        helpRequested: Bool
    ) {
        self.program = program
        self.kinds = kinds
        self.values = values
        self.positionals = positionals
        self.helpRequested = helpRequested
    }

    /// The value as written (for any kind), or nil when unset and without default.
    public func string(_ name: String) -> String? {
        _ = kind(of: name)
        return values[name]?.raw
    }

    /// An `.int` option's value.
    public func int(_ name: String) -> Int? {
        guard case .int(let value)? = typed(name, .int) else { return nil }
        return value
    }

    /// A `.byteSize` option's value in bytes.
    public func bytes(_ name: String) -> Int? {
        guard case .byteSize(let value)? = typed(name, .byteSize) else { return nil }
        return value
    }

    /// A `.duration` option's value.
    public func duration(_ name: String) -> Duration? {
        guard case .duration(let value)? = typed(name, .duration) else { return nil }
        return value
    }

    /// A `.flag` option's value; false when unset and without default.
    public func flag(_ name: String) -> Bool {
        guard case .flag(let value)? = typed(name, .flag) else { return false }
        return value
    }

    /// Where the option's value came from; nil when unset and without default.
    public func source(of name: String) -> ValueSource? {
        _ = kind(of: name)
        return values[name]?.source
    }

    private func typed(_ name: String, _ expected: ConfigOption.Kind) -> ConfigValue? {
        let actual = kind(of: name)
        precondition(actual == expected, "\(program): --\(name) is \(actual), not \(expected)")
        return values[name]?.value
    }

    private func kind(of name: String) -> ConfigOption.Kind {
        guard let kind = kinds[name] else { preconditionFailure("\(program): no option --\(name) was declared") }
        return kind
    }
}
