import Testing

@Test func placeholder_LedgerRelayTests() { #expect(Bool(true)) }
