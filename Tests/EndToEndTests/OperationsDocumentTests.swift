import Foundation
import Testing

/// docs/OPERATIONS.md keeps up with the code it describes.
@Suite struct OperationsDocumentTests {
    static func read(_ path: String) throws -> String { try String(contentsOfFile: Paths.repo(path), encoding: .utf8) }

    @Test func everyServerMetricIsExplained() throws {
        let source = try Self.read("Sources/LedgerServer/App/ServerMetrics.swift")
        let document = try Self.read("docs/OPERATIONS.md")
        let names = Set(source.matches(of: #/# TYPE (ledger_[a-z_]+) /#).map { String($0.1) })
        #expect(names.count >= 6, "found \(names.sorted()); has ServerMetrics.render changed shape?")
        for name in names {
            #expect(document.contains("`\(name)`"), "\(name) is not in docs/OPERATIONS.md §7")
        }
    }

    @Test func everyIncidentKindAndBatchOutcomeIsExplained() throws {
        let document = try Self.read("docs/OPERATIONS.md")
        let store = try Self.read("Sources/LedgerServer/Store/Store.swift")
        let routes = try Self.read("Sources/LedgerServer/Routes/RelayBatches.swift")
        let kinds = store.matches(of: #/case (fork|hostGap|sequenceGap)(?: = "([a-z_]+)")?/#).map { String($0.2 ?? $0.1) }
        #expect(Set(kinds) == ["fork", "host_gap", "sequence_gap"])
        for kind in kinds { #expect(document.contains("`\(kind)`"), "incident kind \(kind)") }
        for outcome in routes.matches(of: #/metrics\.batch\("([a-z_]+)"/#).map({ String($0.1) }) {
            #expect(document.contains("`\(outcome)`"), "batch outcome \(outcome)")
        }
    }
}
