import Testing

@Test func placeholder_LedgerDaemonTests() { #expect(Bool(true)) }
