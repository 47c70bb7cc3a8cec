import Testing

@Test func placeholder_LedgerServerTests() { #expect(Bool(true)) }
