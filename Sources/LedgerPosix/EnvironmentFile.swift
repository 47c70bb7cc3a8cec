// The shared settings file (e.g. /etc/ledger/ledger.env), in the syntax of
// systemd's EnvironmentFile= so a unit can load the same file.
//
// Accepted, one per line (lines end in LF; a CR before it is dropped):
//   - blank lines, and lines whose first non-blank character is `#` or `;`
//     (comments; a `#` later in a line is part of the value);
//   - `KEY=value`, KEY matching [A-Za-z_][A-Za-z0-9_]*, blanks (space, tab)
//     allowed around KEY and `=` and trimmed from both ends of the value;
//   - `KEY="value"`: inside, `\"` `\\` `\$` `` \` `` stand for the character;
//     any other backslash is kept, as in a shell;
//   - `KEY='value'`: taken literally; no escapes, no `'` inside;
//   - a later line for the same KEY replaces an earlier one.
// Rejected, with the file name and line number:
//   - a line without `=`, an invalid KEY, an `export KEY=...` line (systemd
//     would ignore it, silently losing the setting);
//   - an unterminated quote or text after the closing quote;
//   - a quote or backslash inside an unquoted value (systemd's shell-like
//     reading of those differs from the literal one; quote the whole value);
//   - multi-line values and line continuations; invalid UTF-8; files over 1 MiB.
// Unknown keys are kept and ignored by the parser: ledgerd, ledger-relay and
// ledger-server share the file, each reading only its own keys.

/// A parsed EnvironmentFile: each key's last value and the line it came from.
public struct EnvironmentFile: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public let value: String
        /// 1-based line number, for error messages.
        public let line: Int
    }

    /// The path the file was read from, as given.
    public let path: String
    public let entries: [String: Entry]

    /// The largest file `load` reads.
    public static let maxSize = 1 << 20

    /// Reads and parses `path`. A missing or unreadable file, or one that is too
    /// large or not UTF-8, is `ConfigurationError.unreadableFile`; a bad line is
    /// `malformedLine`.
    public static func load(_ path: String) throws -> EnvironmentFile {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path, limit: maxSize)
        } catch let error as IOError {
            throw ConfigurationError.unreadableFile(path: path, reason: error.description)
        }
        return try parse(bytes, path: path)
    }

    /// Parses file contents; `path` is only used in error messages.
    public static func parse(_ bytes: [UInt8], path: String) throws -> EnvironmentFile {
        var entries: [String: Entry] = [:]
        var lineNumber = 0
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var lineBytes = rawLine[...]
            if lineBytes.last == 0x0D { lineBytes = lineBytes.dropLast() }
            // Decoding repairs bad UTF-8 with U+FFFD; re-encoding then differs.
            let line = String(decoding: lineBytes, as: UTF8.self)
            guard line.utf8.elementsEqual(lineBytes) else {
                throw ConfigurationError.malformedLine(path: path, line: lineNumber, reason: "not valid UTF-8")
            }
            switch parseLine(line) {
            case .skip:
                continue
            case .assignment(let key, let value):
                entries[key] = Entry(value: value, line: lineNumber)
            case .malformed(let reason):
                throw ConfigurationError.malformedLine(path: path, line: lineNumber, reason: reason)
            }
        }
        return EnvironmentFile(path: path, entries: entries)
    }

    /// Whether `name` can be a variable name here: [A-Za-z_][A-Za-z0-9_]*.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }

    enum LineOutcome: Equatable {
        case skip
        case assignment(key: String, value: String)
        case malformed(String)
    }

    static func parseLine(_ line: String) -> LineOutcome {
        let scalars = trimBlanks(Array(line.unicodeScalars)[...])
        guard let first = scalars.first else { return .skip }
        if first == "#" || first == ";" { return .skip }
        guard let equals = scalars.firstIndex(of: "=") else {
            return .malformed("expected KEY=value")
        }
        let key = String(String.UnicodeScalarView(trimBlanks(scalars[..<equals])))
        if key.hasPrefix("export ") || key.hasPrefix("export\t") {
            return .malformed("'export' is not allowed in an EnvironmentFile; write KEY=value")
        }
        guard isValidName(key) else {
            return .malformed(key.isEmpty ? "missing variable name before '='" : "invalid variable name '\(key)'")
        }
        let rawValue = trimBlanks(scalars[(equals + 1)...])
        switch rawValue.first {
        case "\"": return doubleQuoted(key, rawValue.dropFirst())
        case "'": return singleQuoted(key, rawValue.dropFirst())
        default:
            if rawValue.contains(where: { $0 == "\"" || $0 == "'" || $0 == "\\" }) {
                return .malformed("quote or backslash inside an unquoted value of \(key); quote the whole value")
            }
            return .assignment(key: key, value: String(String.UnicodeScalarView(rawValue)))
        }
    }

    private static func doubleQuoted(_ key: String, _ body: ArraySlice<Unicode.Scalar>) -> LineOutcome {
        var value = String.UnicodeScalarView()
        var index = body.startIndex
        while index < body.endIndex {
            let scalar = body[index]
            if scalar == "\"" {
                guard index + 1 == body.endIndex else {
                    return .malformed("unexpected text after the closing quote of \(key)")
                }
                return .assignment(key: key, value: String(value))
            }
            if scalar == "\\", index + 1 < body.endIndex {
                let next = body[index + 1]
                if next == "\"" || next == "\\" || next == "$" || next == "`" {
                    value.append(next)
                    index += 2
                    continue
                }
            }
            value.append(scalar)
            index += 1
        }
        return .malformed("unterminated double quote in the value of \(key)")
    }

    private static func singleQuoted(_ key: String, _ body: ArraySlice<Unicode.Scalar>) -> LineOutcome {
        guard let close = body.firstIndex(of: "'") else {
            return .malformed("unterminated single quote in the value of \(key)")
        }
        guard close + 1 == body.endIndex else {
            return .malformed("unexpected text after the closing quote of \(key)")
        }
        return .assignment(key: key, value: String(String.UnicodeScalarView(body[..<close])))
    }

    private static func trimBlanks(_ scalars: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var slice = scalars
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
