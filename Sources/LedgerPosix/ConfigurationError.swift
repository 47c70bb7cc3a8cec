// Everything that can be wrong with how a Ledger program was configured.
// Each message names the option, variable, file and line involved, so the
// operator can fix it without reading code.

/// A command line, environment variable or EnvironmentFile that cannot be used.
public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An argument starting with `-` names no declared option. Check the
    /// spelling; `--help` lists the options. `suggestion` is a close match, if any.
    case unknownOption(String, program: String, suggestion: String?)
    /// An option that takes a value was the last argument. Give the value.
    case missingValue(option: String)
    /// A value does not parse as what the option takes. `source` says where
    /// it came from (`command line`, `environment variable X`, `file:line`).
    case invalidValue(option: String, value: String, source: String, expected: String)
    /// A line of an EnvironmentFile is not `KEY=value` as documented in
    /// `EnvironmentFile`. Fix that line.
    case malformedLine(path: String, line: Int, reason: String)
    /// The EnvironmentFile could not be read: missing (when named explicitly),
    /// no permission, too large. Check the path and its mode.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownOption(let option, let program, let suggestion):
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown option '\(option)'\(hint); run '\(program) --help' to list the options"
        case .missingValue(let option):
            return "option \(option) needs a value"
        case .invalidValue(let option, let value, let source, let expected):
            return "invalid value '\(value)' for \(option) (from \(source)): expected \(expected)"
        case .malformedLine(let path, let line, let reason):
            return "\(path):\(line): \(reason)"
        case .unreadableFile(let path, let reason):
            return "cannot read configuration file \(path): \(reason)"
        }
    }
}
