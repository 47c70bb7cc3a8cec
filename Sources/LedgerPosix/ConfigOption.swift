// One declared setting of an executable: its flag, its LEDGER_* variable, its
// default, its help line and the kind of value it takes.

/// A declared option. Its value comes, in order of precedence, from the
/// command line (`--name value` or `--name=value`), the environment variable
/// `env`, the EnvironmentFile line `env=value`, and finally `defaultValue`.
public struct ConfigOption: Hashable, Sendable {
    /// The kind of value an option takes, and so how its text is parsed.
    public enum Kind: Hashable, Sendable {
        /// Any text.
        case string
        /// A decimal integer, optionally negative: `8`, `-1`.
        case int
        /// A byte count with an optional unit: `4096`, `512MiB`, `10GiB`, `4MB`
        /// (see `ConfigValueParser.byteSize`).
        case byteSize
        /// A duration: `200ms`, `30s`, `5m`, `7d`, `1h30m` (see `ConfigValueParser.duration`).
        case duration
        /// A switch: `--name` alone means true; `--name=false` and variables
        /// take true/false/yes/no/on/off/1/0.
        case flag

        /// Shown after the flag in `--help` when no value name is given.
        var defaultValueName: String {
            switch self {
            case .string: return "VALUE"
            case .int: return "N"
            case .byteSize: return "SIZE"
            case .duration: return "DURATION"
            case .flag: return ""
            }
        }

        /// The end of an "invalid value" message.
        var expectation: String {
            switch self {
            case .string: return "text"
            case .int: return "a whole number such as 8"
            case .byteSize: return "a byte size such as 4096, 512MiB, 10GiB or 4MB"
            case .duration: return "a duration such as 200ms, 30s, 5m, 12h or 7d"
            case .flag: return "true or false"
            }
        }
    }

    /// The long name without dashes: `data-dir` for `--data-dir`.
    public let name: String
    /// The environment (and EnvironmentFile) variable, e.g. `LEDGER_DATA_DIR`;
    /// nil for options that only exist on the command line.
    public let environment: String?
    public let kind: Kind
    /// The value used when no source sets one, written as a user would write
    /// it (`"10GiB"`, `"7d"`); nil means unset (accessors return nil; flags false).
    public let defaultValue: String?
    /// Placeholder in `--help`, e.g. `DIR`; nil uses the kind's (`SIZE`, `N`, ...).
    public let valueName: String?
    /// One line for `--help`.
    public let help: String

    /// Declares an option. `name` must be lowercase letters, digits and dashes
    /// and not `help`; `env` must be a valid variable name. These and a
    /// default that does not parse are programming errors and trap.
    public init(
        _ name: String, env: String? = nil, kind: Kind = .string, default defaultValue: String? = nil,
        valueName: String? = nil, help: String
    ) {
        precondition(
            !name.isEmpty && name != "help" && !name.hasPrefix("-")
                && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" },
            "invalid option name '\(name)'")
        if let env { precondition(EnvironmentFile.isValidName(env), "invalid environment variable name '\(env)'") }
        if let defaultValue {
            precondition(
                ConfigValueParser.parse(defaultValue, as: kind) != nil,
                "default '\(defaultValue)' of --\(name) is not \(kind.expectation)")
        }
        self.name = name
        self.environment = env
        self.kind = kind
        self.defaultValue = defaultValue
        self.valueName = valueName
        self.help = help
    }

    /// `--name VALUE` or `--name` for flags, as `--help` shows it.
    var synopsis: String {
        kind == .flag ? "--\(name)" : "--\(name) \(valueName ?? kind.defaultValueName)"
    }
}
