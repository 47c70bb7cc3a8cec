import Testing
@testable import LedgerCore

/// Sealing records: defaults, provenance, chain positions and the hash.
@Suite struct RecordBuilderTests {
    static let micros: Int64 = 1_771_324_200_123_456

    static func seal(_ event: String, builder: RecordBuilder, chains: inout HostChains,
                     origin: Origin = .unix(uid: 1, gid: 2, pid: 3)) throws(RecordError) -> (SealedRecord, String) {
        var out: [UInt8] = []
        let bytes = Array(event.utf8)
        let result: Result<SealedRecord, RecordError> = bytes.withUnsafeBytes { buffer in
            do throws(RecordError) {
                return .success(try builder.append(buffer, receivedAtMicros: micros, origin: origin,
                                                   chains: &chains, into: &out))
            } catch { return .failure(error) }
        }
        return (try result.get(), String(decoding: out, as: UTF8.self))
    }

    /// The spans the daemon copies its ok line from: each one is the record's own canonical
    /// member value (escaped agent_id included), and the builder's output starts after what
    /// the buffer already held.
    @Test(arguments: [#"{"agent_id":"a"}"#, #"{"agent_id":"q\"b\\s\/\u00e9\u00e8","id":"0190a1b2-c3d4-7e5f-8a9b-000000000001"}"#])
    func sealedSpansPointAtTheRecordsCanonicalStrings(event: String) throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        var out: [UInt8] = Array("frame header".utf8)
        let bytes = Array(event.utf8)
        let spans: SealedSpans = try bytes.withUnsafeBytes { buffer in
            let prepared = try builder.prepare(buffer)
            return try builder.sealSpans(prepared, bytes: buffer, receivedAtMicros: Self.micros,
                                         origin: .unix(uid: 1, gid: 2, pid: 3), chains: &chains, into: &out)
        }
        let record = Array(out[12...])
        let stored = try RecordReader().read(record)
        func text(_ range: Range<Int>) -> String { String(decoding: out[range], as: UTF8.self) }
        var id: [UInt8] = [], agent: [UInt8] = []
        JSONEscapes.writeCanonicalString(stored.id, into: &id)
        JSONEscapes.writeCanonicalString(stored.agentID, into: &agent)
        #expect(text(spans.id) == String(decoding: id, as: UTF8.self))
        #expect(text(spans.agentID) == String(decoding: agent, as: UTF8.self))
        #expect(text(spans.hashText) == stored.hash.hex)
        #expect(spans.hash == stored.hash && spans.position.sequence == 1 && spans.position.hostSeq == 1)
        let line = String(decoding: record, as: UTF8.self)
        #expect(line.contains("\"agent_id\":" + text(spans.agentID) + ","))
    }

    @Test func defaultsAreFilledIn() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        let (sealed, line) = try Self.seal(#"{"agent_id":"a"}"#, builder: builder, chains: &chains)
        #expect(UUIDText.isCanonical(sealed.id))
        #expect(Array(sealed.id.utf8)[14] == UInt8(ascii: "7"))  // version 7
        #expect(line.contains(#""schema_version":"1.0""#))
        #expect(line.contains(#""timestamp":"2026-02-17T10:30:00.123456Z""#))
        #expect(line.contains(#""received_at":"2026-02-17T10:30:00.123456Z""#))
        #expect(line.contains(#""origin":{"gid":2,"pid":3,"transport":"unix","uid":1}"#))
        #expect(line.contains(#""id":"\#(sealed.id)""#))
        let stored = try RecordReader().read(Array(line.utf8))
        #expect(stored.hash == sealed.hash)
    }

    @Test func nullTopLevelFieldsAreLeftOutButNestedNullsKept() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        let (_, line) = try Self.seal(#"{"agent_id":"a","session_id":null,"metadata":{"k":null},"action_input":[null]}"#,
                                      builder: builder, chains: &chains)
        #expect(!line.contains("session_id"))
        #expect(line.contains(#""metadata":{"k":null}"#))
        #expect(line.hasPrefix(#"{"action_input":[null],"agent_id":"a","hash":""#))
    }

    @Test func chainsAdvanceByOneAndLinkToThePreviousHash() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        let (a1, _) = try Self.seal(#"{"agent_id":"a"}"#, builder: builder, chains: &chains)
        let (b1, _) = try Self.seal(#"{"agent_id":"b"}"#, builder: builder, chains: &chains)
        let (a2, line) = try Self.seal(#"{"agent_id":"a"}"#, builder: builder, chains: &chains)
        #expect(a1.position == ChainPosition(sequence: 1, hostSeq: 1, prevHash: .zero))
        #expect(b1.position == ChainPosition(sequence: 1, hostSeq: 2, prevHash: .zero))
        #expect(a2.position == ChainPosition(sequence: 2, hostSeq: 3, prevHash: a1.hash))
        #expect(line.contains(#""prev_hash":"\#(a1.hash.hex)""#))
        #expect(chains.heads["a"] == ChainHead(sequence: 2, hash: a2.hash))
        #expect(chains.lastHostSeq == 3)
    }

    @Test func aRefusedEventLeavesTheChainUntouched() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        _ = try Self.seal(#"{"agent_id":"a"}"#, builder: builder, chains: &chains)
        #expect(throws: RecordError.self) { try Self.seal(#"{"agent_id":"a","bogus":1}"#, builder: builder, chains: &chains) }
        builder.maxRecordBytes = 600
        let big = String(repeating: "x", count: 600)
        let error = #expect(throws: RecordError.self) {
            try Self.seal(#"{"agent_id":"a","action_output":"\#(big)"}"#, builder: builder, chains: &chains)
        }
        #expect(error?.code == .tooLarge)
        #expect(chains.lastHostSeq == 1)
        #expect(chains.heads["a"]?.sequence == 1)
    }

    @Test func recordsAtTheSizeLimitAreAcceptedAndOneByteMoreRefused() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        let probe = try Self.seal(#"{"agent_id":"a","id":"0192f5e0-7c1a-7abc-8def-0123456789ab","action_output":""}"#,
                                  builder: builder, chains: &chains).1
        builder.maxRecordBytes = probe.utf8.count + 10
        let fits = #"{"agent_id":"a","id":"0192f5e0-7c1a-7abc-8def-0123456789ab","action_output":"\#(String(repeating: "y", count: 10))"}"#
        let over = #"{"agent_id":"a","id":"0192f5e0-7c1a-7abc-8def-0123456789ab","action_output":"\#(String(repeating: "y", count: 11))"}"#
        #expect(throws: Never.self) { try Self.seal(fits, builder: builder, chains: &chains) }
        #expect(throws: RecordError.self) { try Self.seal(over, builder: builder, chains: &chains) }
    }

    @Test func httpOriginNamesTheKey() throws {
        let builder = RecordBuilder(hostID: "server-1")
        var chains = HostChains(hostID: "server-1")
        let (_, line) = try Self.seal(#"{"agent_id":"a"}"#, builder: builder, chains: &chains, origin: .http(keyID: "k\"1"))
        #expect(line.contains(#""origin":{"key_id":"k\"1","transport":"http"}"#))
        #expect(line.contains(#""host_id":"server-1""#))
    }

    @Test func uuidV7IdsIncreaseWithinAMillisecond() {
        var generator = UUIDv7Generator()
        let ids = (0..<5_000).map { _ in generator.next(unixMillis: 1_771_324_200_123) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(UUIDText.isCanonical))
        #expect(ids[0].hasPrefix("019c6b26-54bb-7"))  // 48-bit milliseconds, version 7
    }

    @Test func rfc3339ReceivedAtFormatting() {
        #expect(RFC3339.utcMicroseconds(0) == "1970-01-01T00:00:00.000000Z")
        #expect(RFC3339.utcMicroseconds(951_782_400_000_001) == "2000-02-29T00:00:00.000001Z")
        #expect(RFC3339.utcMicroseconds(1_771_324_200_123_456) == "2026-02-17T10:30:00.123456Z")
        #expect(RFC3339.microseconds("2026-02-17T11:30:00.123456+01:00") == 1_771_324_200_123_456)
    }

    @Test func rfc3339FormattingStopsAtTheYear9999InsteadOfWrapping() async {
        #expect(RFC3339.utcMicrosecondsRange.lowerBound == RFC3339.daysFromCivil(0, 1, 1) * 86_400_000_000)
        #expect(RFC3339.utcMicrosecondsRange.upperBound == RFC3339.daysFromCivil(10_000, 1, 1) * 86_400_000_000 - 1)
        #expect(RFC3339.utcMicroseconds(ifRepresentable: 253_402_300_799_999_999) == "9999-12-31T23:59:59.999999Z")
        #expect(RFC3339.utcMicroseconds(ifRepresentable: -62_167_219_200_000_000) == "0000-01-01T00:00:00.000000Z")
        #expect(RFC3339.utcMicroseconds(ifRepresentable: 253_402_300_800_000_000) == nil)
        #expect(RFC3339.utcMicroseconds(ifRepresentable: -62_167_219_200_000_001) == nil)
        #expect(RFC3339.utcMicroseconds(ifRepresentable: .max) == nil)
        #expect(RFC3339.utcMicroseconds(ifRepresentable: .min) == nil)
        // Microseconds taken for milliseconds: the year 58101 once came out as "8101-01-11T12:00:00.000000Z".
        await #expect(processExitsWith: .failure) { _ = RFC3339.utcMicroseconds(1_771_324_200_000_000_000) }
        await #expect(processExitsWith: .failure) { _ = RFC3339.utcMicroseconds(-62_167_219_200_000_001) }
    }
}
