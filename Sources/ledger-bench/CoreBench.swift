import LedgerCore
#if canImport(Glibc)
import Glibc
#endif

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

enum CorpusCommand {
    static func run(_ arguments: [String]) {
        let count = Int(option("--count", in: arguments) ?? "1000000") ?? 1_000_000
        let size = Int(option("--size", in: arguments) ?? "400") ?? 400
        let seed = UInt64(option("--seed", in: arguments) ?? "42") ?? 42
        let varied = arguments.contains("--varied")
        var corpus = EventCorpus(seed: seed)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        for index in 0..<count {
            // --varied: 200 B to 4 KiB, most events small (a log-uniform spread).
            let bytes = varied ? Int(200 * pow(20.48, Double(corpus.generator.next() % 1000) / 1000)) : size
            buffer.append(contentsOf: corpus.event(index: index, size: bytes).utf8)
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 20 {
                buffer.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        buffer.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
    }
}

/// Parse, validate, chain and hash events in one thread: the daemon's per-event CPU work.
enum CoreBench {
    static func run(_ arguments: [String]) {
        let count = Int(option("--count", in: arguments) ?? "1000000") ?? 1_000_000
        let phase = option("--phase", in: arguments) ?? "both"
        var corpus = EventCorpus(seed: 42)
        let distinct = 10_000
        let events = (0..<distinct).map { Array(corpus.event(index: $0, size: 400).utf8) }
        let builder = RecordBuilder(hostID: "bench-host")
        var chains = HostChains(hostID: "bench-host")
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        var tape = JSONTape()
        var canonicalOut: [UInt8] = []
        canonicalOut.reserveCapacity(1 << 20)

        var start = monotonicSeconds()
        for i in 0..<(phase == "both" || phase == "canon" ? count : 0) {
            events[i % distinct].withUnsafeBytes { bytes in
                try! tape.parse(bytes)
                CanonicalJSON.write(tape, 0, bytes: bytes, into: &canonicalOut)
            }
            if canonicalOut.count > 1 << 20 { canonicalOut.removeAll(keepingCapacity: true) }
        }
        let canonSeconds = monotonicSeconds() - start

        start = monotonicSeconds()
        for i in 0..<(phase == "both" || phase == "record" ? count : 0) {
            _ = events[i % distinct].withUnsafeBytes { bytes in
                try! builder.append(bytes, receivedAtMicros: 1_771_324_200_000_000 + Int64(i),
                                    origin: .unix(uid: 1000, gid: 1000, pid: 4242), chains: &chains, into: &out)
            }
            if out.count > 1 << 20 { out.removeAll(keepingCapacity: true) }
        }
        let recordSeconds = monotonicSeconds() - start

        // What the server does per record (`ledgerctl verify` adds Strings): parse, validate, check the
        // canonical form and recompute the hash.
        var sealed: [[UInt8]] = []
        var sealChains = HostChains(hostID: "bench-host")
        for i in 0..<(phase == "read" || phase == "both" ? distinct : 0) {
            var line: [UInt8] = []
            _ = events[i].withUnsafeBytes { bytes in
                try! builder.append(bytes, receivedAtMicros: 1_771_324_200_000_000 + Int64(i),
                                    origin: .unix(uid: 1000, gid: 1000, pid: 4242), chains: &sealChains, into: &line)
            }
            sealed.append(line)
        }
        let reader = RecordReader()
        start = monotonicSeconds()
        for i in 0..<(sealed.isEmpty ? 0 : count) {
            _ = sealed[i % distinct].withUnsafeBytes { try! reader.check($0) }
        }
        let readSeconds = monotonicSeconds() - start
        print("core: \(count) events of 400 bytes, one thread")
        if phase == "both" || phase == "canon" {
            print("  parse + canonicalize:                      \(Int(Double(count) / canonSeconds)) events/s")
        }
        if phase == "both" || phase == "record" {
            print("  parse + validate + seal (chain, SHA-256):  \(Int(Double(count) / recordSeconds)) events/s")
        }
        if phase == "both" || phase == "read" {
            print("  check a record line (canonical + hash, as ingest does): \(Int(Double(count) / readSeconds)) records/s")
        }
    }
}

/// A benchmark that could not run; the message says why.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
