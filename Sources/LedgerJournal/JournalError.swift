/// Why the journal cannot be opened or written. Damage found at start is not an
/// error: recovery truncates or quarantines it and reports it in `RecoveryReport`.
public enum JournalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The journal's segments were written by a daemon with another host_id. Each host_id
    /// owns its own journal: start ledgerd with the journal's host_id, or use a new
    /// --data-dir for the new one (and keep the old journal until it is forwarded).
    case hostMismatch(path: String, journal: String, configured: String)
    /// host_id is empty or longer than 4096 bytes. Choose a shorter --host-id.
    case invalidHostID(String)
    /// An earlier write or fdatasync failed, so what is on disk past the last durable
    /// record is unknown. Every later append is refused until ledgerd restarts and
    /// recovery re-reads the tail. Fix the disk (space, I/O errors in dmesg), then restart.
    case failed(underlying: String)
    /// The checkpoint file is not 24 bytes with the right magic and CRC. Readers wait;
    /// ledgerd rewrites it on start.
    case badCheckpoint(path: String)

    public var description: String {
        switch self {
        case let .hostMismatch(path, journal, configured):
            return "\(path) belongs to host_id \"\(journal)\", but this daemon is host_id \"\(configured)\""
        case let .invalidHostID(id): return "invalid host_id \"\(id)\": 1 to 4096 bytes of UTF-8"
        case let .failed(underlying): return "journal failed earlier and refuses writes until restart: \(underlying)"
        case let .badCheckpoint(path): return "\(path) is not a valid journal checkpoint"
        }
    }
}
