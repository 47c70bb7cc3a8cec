// INVARIANT: an id in the window maps to the record the journal holds for it,
// so a retry is answered with the original's chain position, never a second record.

import LedgerCore

/// The ids of the most recent records (default 100,000), for answering a retry (same `id`)
/// with the original record's response. Older ids fall out in arrival order; a retry after
/// that becomes a new record. Rebuilt from the journal's tail on start.
struct DedupeWindow {
    struct Entry {
        var agentID: String
        var sequence: UInt64
        var hash: SHA256Digest
        var hostSeq: UInt64
    }

    /// A canonical UUID's 128 bits.
    struct Key: Hashable {
        var high: UInt64
        var low: UInt64

        init?(_ id: String) {
            var high: UInt64 = 0
            var low: UInt64 = 0
            var nibbles = 0
            for byte in id.utf8 {
                let value: UInt8
                switch byte {
                case 48...57: value = byte - 48
                case 97...102: value = byte - 87
                case 45: continue
                default: return nil
                }
                if nibbles < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
                nibbles += 1
            }
            guard nibbles == 32 else { return nil }
            self.high = high
            self.low = low
        }
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        entries.reserveCapacity(min(self.capacity, 1 << 20))
    }

    var count: Int { entries.count }

    func lookup(_ id: String) -> Entry? {
        guard capacity > 0, let key = Key(id) else { return nil }
        return entries[key]
    }

    mutating func insert(id: String, _ entry: Entry) {
        guard capacity > 0, let key = Key(id) else { return }
        if order.count < capacity {
            order.append(key)
        } else {
            entries.removeValue(forKey: order[next])
            order[next] = key
            next = (next + 1) % capacity
        }
        entries[key] = entry
    }
}
