import Foundation

/// logfmt lines to stderr, one write per line so threads do not interleave.
/// (Stands in until LedgerPosix.Logger lands on main; same output shape.)
public struct ServerLog: Sendable {
    public var component: String
    public var debugEnabled: Bool

    public init(component: String = "server", debugEnabled: Bool = false) {
        self.component = component
        self.debugEnabled = debugEnabled
    }

    public func info(_ message: String, _ fields: [String: String] = [:]) { write("info", message, fields) }
    public func warn(_ message: String, _ fields: [String: String] = [:]) { write("warn", message, fields) }
    public func error(_ message: String, _ fields: [String: String] = [:]) { write("error", message, fields) }
    public func debug(_ message: String, _ fields: [String: String] = [:]) {
        if debugEnabled { write("debug", message, fields) }
    }

    private func write(_ level: String, _ message: String, _ fields: [String: String]) {
        var line = "level=\(level) component=\(component) msg=\(Self.quote(message))"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { line += " \(name)=\(Self.quote(value))" }
        line += "\n"
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { _ = Foundation.write(2, $0.baseAddress, $0.count) }
    }

    static func quote(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
