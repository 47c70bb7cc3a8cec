import Foundation
import LedgerCore

// The integer keys of hosts and agents (PostgresSchema version 2), remembered per server.
//
// A key never changes once its row is committed (hosts and agents are never deleted or
// renamed), so every server may keep what it has seen for as long as it runs. Keys reach this
// cache only after the transaction that read or created them committed (PostgresStore.perform):
// a row created by a transaction that rolled back is gone, and its key with it.

final class PostgresKeys: @unchecked Sendable {
    /// Keys one transaction read or created; published with `remember` after it commits.
    struct Learned {
        var hosts: [String: Int32] = [:]
        var agents: [ExactString: Int32] = [:]
    }

    private let lock = NSLock()
    // Guarded by `lock`.
    private var hosts: [String: Int32] = [:]
    private var agents: [ExactString: Int32] = [:]

    func host(_ id: String) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        return hosts[id]
    }

    /// By the exact agent_id: two spellings that Swift's String deems equal are two agents.
    func agent(_ id: String) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        return agents[ExactString(id)]
    }

    /// Entries per map before it starts over: bounds memory when clients invent agent ids.
    static let capacity = 100_000

    func remember(_ learned: Learned) {
        guard !learned.hosts.isEmpty || !learned.agents.isEmpty else { return }
        lock.lock()
        if hosts.count + learned.hosts.count > Self.capacity { hosts = [:] }
        if agents.count + learned.agents.count > Self.capacity { agents = [:] }
        hosts.merge(learned.hosts) { _, new in new }
        agents.merge(learned.agents) { _, new in new }
        lock.unlock()
    }
}
