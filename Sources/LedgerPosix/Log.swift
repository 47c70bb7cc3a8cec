// One logfmt line per event on stderr, the form journald stores as is:
//
//   ts=2026-11-23T10:00:00.123456Z level=info component=ledgerd msg="listening" socket=/run/ledger.sock
//
// `ts=` is left out when stderr is connected to journald (JOURNAL_STREAM
// matches stderr), which timestamps every line itself. Lines from all loggers
// in the process share one lock and are written with one write(2) each, so
// they never interleave.

internal import Glibc

/// A logger for one component. Cheap to copy; all copies share the output lock.
public struct Logger: Sendable {
    /// Severity, in increasing order.
    public enum Level: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
        case debug, info, warn, error

        /// Parses `debug`, `info`, `warn` (or `warning`), `error`, in any case.
        public init?(parsing text: String) {
            switch text.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warn: return "warn"
            case .error: return "error"
            }
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        /// The level named by LEDGER_LOG_LEVEL; `.info` when unset or unrecognized.
        public static func fromEnvironment() -> Level {
            Environment.get("LEDGER_LOG_LEVEL").flatMap(Level.init(parsing:)) ?? .info
        }
    }

    /// Written as `component=` on every line, e.g. `ledgerd` or `journal`.
    public let component: String
    /// Events below this level are dropped.
    public let threshold: Level
    /// Whether lines start with `ts=<RFC 3339 UTC>`.
    public let timestamps: Bool
    let output: FileDescriptor

    private static let outputLock = Lock()

    /// - Parameters:
    ///   - threshold: default `Level.fromEnvironment()` (LEDGER_LOG_LEVEL).
    ///   - output: default stderr.
    ///   - timestamps: default: on unless `output` is journald's stream.
    public init(
        component: String, threshold: Level? = nil, output: FileDescriptor = .standardError, timestamps: Bool? = nil
    ) {
        self.component = component
        self.threshold = threshold ?? Level.fromEnvironment()
        self.output = output
        self.timestamps = timestamps ?? !Logger.isJournalStream(output, journalStream: Environment.get("JOURNAL_STREAM"))
    }

    /// The same logger under another component name.
    public func withComponent(_ component: String) -> Logger {
        Logger(component: component, threshold: threshold, output: output, timestamps: timestamps)
    }

    /// Whether an event at `level` would be written (to skip costly field preparation).
    public func isEnabled(_ level: Level) -> Bool { level >= threshold }

    /// Writes one line. `fields` keep their order; values are rendered with
    /// `String(describing:)` (optionals unwrapped, nil as `nil`) and quoted when needed.
    public func log(_ level: Level, _ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        guard isEnabled(level) else { return }
        let timestamp = timestamps ? SystemClock.rfc3339(microseconds: SystemClock.nowMicroseconds()) : nil
        let line = Logger.formatLine(
            timestamp: timestamp, level: level, component: component, message: message(),
            fields: fields.map { ($0.key, Logger.text(of: $0.value)) })
        let bytes = Array(line.utf8)
        Logger.outputLock.withLock {
            // A logger has nowhere to report its own failure; a full disk or a
            // closed stderr must not take the service down with it.
            try? output.write(bytes)
        }
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        log(.debug, message(), fields)
    }

    public func info(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        log(.info, message(), fields)
    }

    public func warn(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        log(.warn, message(), fields)
    }

    public func error(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        log(.error, message(), fields)
    }

    /// One complete line including the trailing newline. `msg` is always
    /// quoted; other values only when they need it.
    static func formatLine(
        timestamp: String?, level: Level, component: String, message: String, fields: [(String, String)]
    ) -> String {
        var line = ""
        if let timestamp { line += "ts=\(timestamp) " }
        line += "level=\(level) component=\(quoted(component, always: false)) msg=\(quoted(message, always: true))"
        for (key, value) in fields {
            line += " \(sanitizedKey(key))=\(quoted(value, always: false))"
        }
        return line + "\n"
    }

    /// logfmt value: bare when it is non-empty and has no space, `=`, quote,
    /// backslash or control character; otherwise in double quotes with `\"`,
    /// `\\`, `\n`, `\r`, `\t` and `\u00XX` escapes. A value can therefore never
    /// end the line or forge another field.
    static func quoted(_ value: String, always: Bool) -> String {
        let needsQuotes = always || value.isEmpty
            || value.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F || "=\"\\".unicodeScalars.contains($0) }
        guard needsQuotes else { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Keys are code-chosen, but a bad one must not break the line: anything
    /// outside [A-Za-z0-9_.-] becomes `_`.
    static func sanitizedKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        return String(String.UnicodeScalarView(key.unicodeScalars.map { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "-": return scalar
            default: return "_"
            }
        }))
    }

    static func text(of value: Any) -> String {
        if let optional = value as? LogOptional { return optional.logText }
        return String(describing: value)
    }

    /// systemd sets JOURNAL_STREAM=<device>:<inode> of the stream it connected;
    /// it only applies if `fd` is still that stream (not redirected since).
    static func isJournalStream(_ fd: FileDescriptor, journalStream: String?) -> Bool {
        guard let journalStream, let colon = journalStream.firstIndex(of: ":"),
            let device = UInt64(journalStream[..<colon]),
            let inode = UInt64(journalStream[journalStream.index(after: colon)...]),
            let status = try? fd.status()
        else { return false }
        return status.device == device && status.inode == inode
    }
}

/// Lets `Logger.text(of:)` unwrap optionals hidden in `Any`.
private protocol LogOptional {
    var logText: String { get }
}

extension Optional: LogOptional {
    fileprivate var logText: String {
        switch self {
        case .some(let wrapped): return Logger.text(of: wrapped)
        case .none: return "nil"
        }
    }
}
