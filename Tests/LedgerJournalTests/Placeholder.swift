import Testing

@Test func placeholder_journal() { #expect(Bool(true)) }
