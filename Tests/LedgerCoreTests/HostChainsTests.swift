import Testing
@testable import LedgerCore

/// The chain table: found by agent_id bytes, growing, and refusing discontinuities.
@Suite struct HostChainsTests {
    static func digest(_ n: UInt8) -> SHA256Digest {
        SHA256Hasher().hash([n])
    }

    @Test func every_chain_is_found_by_its_own_bytes_after_the_table_grows() throws {
        var chains = HostChains(hostID: "h")
        // Names that share prefixes, differ in length only, and are not ASCII: 3,000 chains
        // make the table grow eight times.
        let agents = (0..<3000).map { i in i % 3 == 0 ? "agent-\(i)" : i % 3 == 1 ? "agent-\(i)-x" : "é\(i)\"\\" }
        for round in 1...2 {
            for (i, agent) in agents.enumerated() {
                let position = chains.nextPosition(for: agent)
                #expect(position.sequence == UInt64(round))
                try chains.advance(agentID: agent, to: position, hash: Self.digest(UInt8(i % 256)))
            }
            #expect(chains.testOnly_verifyInvariants())
        }
        #expect(chains.chainCount == agents.count && chains.lastHostSeq == UInt64(2 * agents.count))
        let heads = chains.heads
        #expect(heads.count == agents.count)
        #expect(heads["é2\"\\"] == ChainHead(sequence: 2, hash: Self.digest(2)))
        // A table rebuilt from those heads finds the same chains.
        let reloaded = HostChains(hostID: "h", lastHostSeq: chains.lastHostSeq, heads: heads)
        #expect(reloaded.testOnly_verifyInvariants() && reloaded.heads == heads)
        #expect(reloaded.nextPosition(for: "agent-3").sequence == 3)
        #expect(reloaded.nextPosition(for: "agent-").sequence == 1)
    }

    @Test func advanceRefusesAnythingButTheNextPosition() throws {
        var chains = HostChains(hostID: "h")
        let first = chains.nextPosition(for: "a")
        let hash = SHA256.hash(Array("x".utf8))
        try chains.advance(agentID: "a", to: first, hash: hash)
        var skipped = chains.nextPosition(for: "a")
        skipped.sequence += 1
        #expect(throws: ChainError.self) { try chains.advance(agentID: "a", to: skipped, hash: hash) }
        var wrongLink = chains.nextPosition(for: "a")
        wrongLink.prevHash = .zero
        #expect(throws: ChainError.self) { try chains.advance(agentID: "a", to: wrongLink, hash: hash) }
        var hostSkip = chains.nextPosition(for: "b")
        hostSkip.hostSeq += 1
        #expect(throws: ChainError.self) { try chains.advance(agentID: "b", to: hostSkip, hash: hash) }
        #expect(chains.lastHostSeq == 1)
    }

    @Test func a_position_that_does_not_continue_the_chain_is_refused_and_changes_nothing() throws {
        var chains = HostChains(hostID: "h")
        try chains.advance(agentID: "a", to: chains.nextPosition(for: "a"), hash: Self.digest(1))
        let wrong = ChainPosition(sequence: 1, hostSeq: 2, prevHash: .zero)
        #expect(throws: ChainError.self) { try chains.advance(agentID: "a", to: wrong, hash: Self.digest(2)) }
        #expect(chains.heads == ["a": ChainHead(sequence: 1, hash: Self.digest(1))] && chains.lastHostSeq == 1)
    }

    /// The builder looks chains up by the event's bytes: an agent_id sent with escapes and the
    /// same one sent without are one chain.
    @Test func escaped_and_plain_spellings_of_an_agent_id_are_one_chain() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        let (first, _) = try RecordBuilderTests.seal(#"{"agent_id":"q\"b\\s\/\u00e9"}"#, builder: builder, chains: &chains)
        let (second, _) = try RecordBuilderTests.seal(#"{"agent_id":"q\u0022b\\s/é"}"#, builder: builder, chains: &chains)
        let (other, _) = try RecordBuilderTests.seal(#"{"agent_id":"q\"b\\s/e"}"#, builder: builder, chains: &chains)
        #expect(first.agentID == "q\"b\\s/é" && second.agentID == first.agentID)
        #expect(first.position.sequence == 1 && second.position.sequence == 2 && second.position.prevHash == first.hash)
        #expect(other.position.sequence == 1)
        #expect(chains.chainCount == 2 && chains.testOnly_verifyInvariants())
    }
}

/// Swift's String equality is Unicode canonical equivalence; a chain is named by the exact
/// agent_id (FORMAT.md), and every store and verifier compares bytes or code points.
@Suite struct ExactAgentIdentityTests {
    static let composed = "caf\u{E9}"          // é as one code point
    static let decomposed = "cafe\u{301}"      // e + combining acute accent

    @Test func twoSpellingsThatSwiftDeemsEqualAreTwoChains() throws {
        #expect(Self.composed == Self.decomposed)  // why ExactString exists
        var chains = HostChains(hostID: "h")
        for agent in [Self.composed, Self.decomposed, Self.composed] {
            let position = chains.nextPosition(for: agent)
            try chains.advance(agentID: agent, to: position, hash: HostChainsTests.digest(UInt8(position.hostSeq)))
        }
        let heads = chains.heads  // trapped on duplicate String keys before
        #expect(heads.count == 2)
        #expect(heads[ExactString(Self.composed)]?.sequence == 2)
        #expect(heads[ExactString(Self.decomposed)]?.sequence == 1)
        let reloaded = HostChains(hostID: "h", lastHostSeq: chains.lastHostSeq, heads: heads)
        #expect(reloaded.chainCount == 2)
        #expect(reloaded.nextPosition(for: Self.composed).sequence == 3)
        #expect(reloaded.nextPosition(for: Self.decomposed).sequence == 2)
    }

    @Test func anExportWithBothSpellingsVerifiesAsTwoChains() throws {
        let host = SimulatedHost(hostID: "h", key: try Ed25519PrivateKey())
        let agents = [#"caf\u00e9"#, #"cafe\u0301"#]
        let lines = host.records(6, agents: 2, agentJSON: { agents[$0] })
        let verifier = ExportVerifier()
        for line in lines { line.withUnsafeBytes { _ = verifier.consume(line: $0) } }
        let report = verifier.finish()
        #expect(report.failure == nil, "\(String(describing: report.failure))")
        #expect(report.records == 6 && report.chains == 2)
    }
}
