import Foundation
import LedgerCore

// INVARIANT: the server's own chains (host_id = --host-id) advance only under
// `lock`, and only once the store has committed the records that advance them.
// After any store failure the chains are read back from the store before the next
// event is sealed: what the failure left behind is unknown (a COMMIT lost with its
// connection may have landed; another writer may have moved the heads), and putting
// back the in-memory heads would reseal positions the store may already hold, failing
// every later request the same way. The store refuses a sealed range that does not
// continue its stored host_seq (StoreTransaction.appendSealed), so nothing is stored twice.

/// One event of a direct-ingest request after sealing: its record, or why it was refused.
public enum DirectResult {
    case stored(line: [UInt8], facts: StoredRecord)
    case refused(RecordError)
}

/// Seals events on the server's own chains and stores them (ProvenLog- and Trenchcoat-style ingest).
public final class DirectIngestor: @unchecked Sendable {
    public let hostID: String
    private let store: Store
    private let lock = NSLock()
    // Guarded by `lock`.
    private var chains: HostChains
    /// Set by any store failure after sealing: the stored heads are read back before the next
    /// event is sealed.
    private var chainsUncertain = false
    private let builder: RecordBuilder
    private let reader = RecordReader()

    public init(hostID: String, store: Store) throws {
        self.hostID = hostID
        self.store = store
        self.chains = try store.loadHostChains(hostID: hostID)
        self.builder = RecordBuilder(hostID: hostID)
    }

    /// Seals and stores each event that validates; with `allOrNothing`, one refusal refuses all
    /// (nothing stored). Results come back one per event, in order.
    public func ingest(_ events: [[UInt8]], origin: Origin, receivedAtMicros: Int64,
                       allOrNothing: Bool = false) throws -> [DirectResult] {
        lock.lock()
        defer { lock.unlock() }
        if chainsUncertain {
            chains = try store.loadHostChains(hostID: hostID)
            chainsUncertain = false
        }
        let saved = chains
        var results: [DirectResult] = []
        var records = IngestRows()
        results.reserveCapacity(events.count)
        for event in events {
            var line: [UInt8] = []
            let outcome: Result<SealedRecord, RecordError> = event.withUnsafeBytes { bytes in
                do throws(RecordError) {
                    return .success(try builder.append(bytes, receivedAtMicros: receivedAtMicros, origin: origin,
                                                       chains: &chains, into: &line))
                } catch { return .failure(error) }
            }
            switch outcome {
            case .success:
                // Read back: the stored facts come from the stored bytes, and a sealing bug cannot store a bad hash.
                let facts: StoredRecord
                do { facts = try reader.read(line) } catch {
                    chains = saved
                    throw StoreError.corrupt("a sealed record does not read back: \(error)")
                }
                records.append(line: line, facts: facts)
                results.append(.stored(line: line, facts: facts))
            case let .failure(error):
                results.append(.refused(error))
            }
        }
        if allOrNothing, results.contains(where: { if case .refused = $0 { true } else { false } }) {
            chains = saved
            return results
        }
        do {
            try store.appendDirect(hostID: hostID, records: records)
        } catch {
            chains = saved
            chainsUncertain = true
            throw error
        }
        return results
    }
}
