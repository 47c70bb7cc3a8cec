import Testing
@testable import LedgerCore

@Test func placeholder_core() { #expect(Bool(true)) }
