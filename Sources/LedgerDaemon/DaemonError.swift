/// Why ledgerd cannot start or had to stop.
public enum DaemonError: Error, CustomStringConvertible {
    /// socket activation passed descriptors, but not exactly one or two Unix stream listeners.
    /// Check the .socket unit: one ListenStream= for the main socket.
    case activation(String)
    /// The configuration is unusable (a value out of range). Fix the named option.
    case configuration(String)

    public var description: String {
        switch self {
        case let .activation(why): return "socket activation: \(why)"
        case let .configuration(why): return "configuration: \(why)"
        }
    }
}
