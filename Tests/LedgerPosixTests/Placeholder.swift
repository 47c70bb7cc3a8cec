import Testing

@Test func placeholder_LedgerPosixTests() { #expect(Bool(true)) }
