// `ledger-bench daemon`: starts the real ledgerd on a temporary socket and data
// directory (on disk, so fdatasync costs what it costs), drives it with N
// writer connections sending 400-byte events and reading every response, and
// reports durable events/s, MiB/s, response latency percentiles, the daemon's
// CPU seconds per million events and its peak RSS (from /proc).
//
// Each writer has a sending thread and a receiving thread on one blocking
// socket; response i answers line i, so latency is measured per event from the
// moment its line was handed to write(2) to the moment its response line was read.

import Dispatch
import Glibc
import LedgerPosix

enum DaemonBench {
    static let usage = """
        usage: ledger-bench daemon [--writers N] [--events N] [--rate EVENTS_PER_S] [--record-bytes N]
                                   [--agents-per-writer N] [--ledgerd PATH] [--dir DIR] [--window N] [--tick-us N]
          --writers N            concurrent connections (default 8)
          --events N             events in total (default 1000000)
          --rate R               total events per second to offer (default: as fast as possible)
          --record-bytes N       size of each event line including its newline (default 400)
          --agents-per-writer N  chains per writer (default 16)
          --ledgerd PATH         the daemon binary (default: next to ledger-bench)
          --dir DIR              where the temporary socket and journal go (default /var/tmp; must be on disk)
          --window N             most unanswered lines per writer (default 2048)
          --tick-us N            with --rate: a writer sleeps this long when nothing is due, then sends
                                 all that became due in one write (default 1000)
        """

    struct Options {
        var writers = 8
        var events = 1_000_000
        var rate: Double?
        var recordBytes = 400
        var agentsPerWriter = 16
        var ledgerd: String?
        var dir = "/var/tmp"
        var window = 2048
        var tickMicros = 1000
    }

    static func main(_ arguments: [String]) -> Int32 {
        var o = Options()
        var i = 0
        func value() -> String? {
            i += 1
            return i < arguments.count ? arguments[i] : nil
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--writers": o.writers = value().flatMap { Int($0) } ?? 0
            case "--events": o.events = value().flatMap { Int($0) } ?? 0
            case "--rate": o.rate = value().flatMap { Double($0) }
            case "--record-bytes": o.recordBytes = value().flatMap { Int($0) } ?? 0
            case "--agents-per-writer": o.agentsPerWriter = value().flatMap { Int($0) } ?? 0
            case "--ledgerd": o.ledgerd = value()
            case "--dir": o.dir = value() ?? o.dir
            case "--window": o.window = value().flatMap { Int($0) } ?? 0
            case "--tick-us": o.tickMicros = value().flatMap { Int($0) } ?? 0
            case "-h", "--help": print(usage); return 0
            default:
                fputs("ledger-bench daemon: unexpected \(arguments[i])\n\(usage)" + "\n", stderr)
                return 2
            }
            i += 1
        }
        guard o.writers > 0, o.events >= o.writers, o.recordBytes >= 120, o.agentsPerWriter > 0, o.window > 0,
              o.tickMicros > 0 else {
            fputs(usage + "\n", stderr)
            return 2
        }
        do {
            try run(o)
            return 0
        } catch {
            fputs("ledger-bench daemon: \(error)" + "\n", stderr)
            return 1
        }
    }

    static func run(_ o: Options) throws {
        let base = try FileSystem.makeTemporaryDirectory(prefix: "ledger-bench", base: o.dir)
        defer { try? FileSystem.removeTree(base) }
        let socket = base + "/s"
        let binary = o.ledgerd ?? siblingPath("ledgerd")
        let daemon = try DaemonProcess.spawn(binary, [
            "--socket", socket, "--data-dir", base + "/data", "--host-id", "bench", "--standalone",
            "--config", "/dev/null",
        ])
        defer { daemon.terminate() }
        try waitForSocket(socket)

        let perWriter = o.events / o.writers
        let total = perWriter * o.writers
        let writers = (0..<o.writers).map { Writer(index: $0, events: perWriter, options: o) }
        let cpuBefore = daemon.cpuSeconds()
        let started = SystemClock.monotonicNanoseconds()
        let group = DispatchGroup()
        for writer in writers {
            try writer.connect(socket)
            for part in [writer.receive, writer.send] {
                DispatchQueue(label: "bench").async(group: group) { part() }
            }
        }
        group.wait()
        let elapsed = Double(SystemClock.monotonicNanoseconds() - started) / 1e9
        let cpu = daemon.cpuSeconds() - cpuBefore
        let peak = daemon.peakRSSKiB()

        var latencies: [UInt64] = []
        latencies.reserveCapacity(total)
        var failures = 0
        for writer in writers {
            latencies.append(contentsOf: UnsafeBufferPointer(start: writer.latency, count: writer.received))
            failures += writer.failures
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1e6
        }
        let received = writers.reduce(0) { $0 + $1.received }
        print("writers \(o.writers), events \(total), record \(o.recordBytes) B, offered rate "
            + (o.rate.map { "\(Int($0))/s, tick \(o.tickMicros) µs" } ?? "max"))
        print("durable events/s  \(Int(Double(received) / elapsed))")
        print("MiB/s             \(format(Double(received * o.recordBytes) / elapsed / 1_048_576))")
        print("latency p50       \(format(percentile(0.50))) ms")
        print("latency p99       \(format(percentile(0.99))) ms")
        print("latency max       \(format(percentile(1.0))) ms")
        print("daemon CPU        \(format(cpu / Double(max(received, 1)) * 1e6)) s per million events (\(format(cpu)) s)")
        print("daemon peak RSS   \(format(Double(peak) / 1024)) MiB")
        print("elapsed           \(format(elapsed)) s")
        if failures > 0 || received != total {
            throw BenchError("\(failures) rejected, \(total - received) unanswered of \(total)")
        }
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(scaled)
    }

    static func siblingPath(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return name }
        let exe = String(cString: buffer)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/" + name
    }

    static func waitForSocket(_ path: String) throws {
        for _ in 0..<500 {
            if let fd = try? UnixSocket.connect(to: path) {
                try? fd.close()
                return
            }
            usleep(10_000)
        }
        throw BenchError("ledgerd did not open \(path) within 5 s")
    }
}


/// One writer connection: a sending and a receiving thread over one blocking socket.
final class Writer: @unchecked Sendable {
    // @unchecked: `sentAt` slot i is written by the sender before line i is sent and read by
    // the receiver only after response i arrived; the window semaphore orders the rest.
    let index: Int
    let events: Int
    let options: DaemonBench.Options
    var fd = FileDescriptor(rawValue: -1)
    let sentAt: UnsafeMutablePointer<UInt64>
    let latency: UnsafeMutablePointer<UInt64>
    var received = 0
    var failures = 0
    let window: DispatchSemaphore

    init(index: Int, events: Int, options: DaemonBench.Options) {
        self.index = index
        self.events = events
        self.options = options
        sentAt = .allocate(capacity: events)
        latency = .allocate(capacity: events)
        window = DispatchSemaphore(value: options.window)
    }

    func connect(_ path: String) throws { fd = try UnixSocket.connect(to: path) }

    /// A line of exactly `recordBytes` bytes (newline included).
    func line(_ n: Int) -> [UInt8] {
        let agent = "bench-w\(index)-a\(n % options.agentsPerWriter)"
        let head = "{\"agent_id\":\"\(agent)\",\"action_type\":\"TOOL_CALL\",\"action_name\":\"search\",\"action_input\":{\"q\":\""
        let tail = "\"}}\n"
        let pad = max(0, options.recordBytes - head.utf8.count - tail.utf8.count)
        return Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: pad) + Array(tail.utf8)
    }

    func send() {
        let lines = (0..<options.agentsPerWriter).map(line)
        let perWriterRate = options.rate.map { $0 / Double(options.writers) }
        let start = SystemClock.monotonicNanoseconds()
        var chunk: [UInt8] = []
        var n = 0
        while n < events {
            var due = events
            if let perWriterRate {
                let elapsed = Double(SystemClock.monotonicNanoseconds() - start) / 1e9
                due = min(events, Int(elapsed * perWriterRate) + 1)
                if due <= n {
                    // Each wake-up of 8 writers costs the 2 cores the daemon shares with them: a
                    // 200 µs tick took ~30,000 wake-ups/s. Events are stamped when written, so the
                    // tick adds no latency to what is measured.
                    usleep(UInt32(options.tickMicros))
                    continue
                }
            }
            chunk.removeAll(keepingCapacity: true)
            let end = min(due, n + 32)
            let now = SystemClock.monotonicNanoseconds()
            while n < end {
                window.wait()
                sentAt[n] = now
                chunk.append(contentsOf: lines[n % lines.count])
                n += 1
            }
            do { try fd.write(chunk) } catch { break }
        }
        try? fd.shutdown(.write)
    }

    func receive() {
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        // Where the current line started in the stream, to find its 7th byte: {"ok":t or {"ok":f.
        var column = 0
        while received < events {
            let count = (try? buffer.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
            if count == 0 { break }
            let now = SystemClock.monotonicNanoseconds()
            buffer.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                var at = 0
                while at < count {
                    if column <= 6 && at + 6 - column < count && raw[at + 6 - column] == UInt8(ascii: "f") {
                        failures += 1
                    }
                    // SAFETY: memchr reads only base+at ..< base+count, inside the buffer.
                    guard let hit = memchr(base + at, 0x0A, count - at) else {
                        column += count - at
                        break
                    }
                    let newline = base.distance(to: UnsafeRawPointer(hit))
                    latency[received] = now - sentAt[received]
                    received += 1
                    window.signal()
                    column = 0
                    at = newline + 1
                }
            }
        }
        try? fd.close()
    }
}

/// The ledgerd child process.
final class DaemonProcess {
    let pid: pid_t

    init(pid: pid_t) { self.pid = pid }

    static func spawn(_ path: String, _ arguments: [String]) throws -> DaemonProcess {
        var pid: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
        return DaemonProcess(pid: pid)
    }

    /// utime + stime from /proc/PID/stat.
    func cpuSeconds() -> Double {
        guard let bytes = try? FileSystem.readFile("/proc/\(pid)/stat") else { return 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmHWM from /proc/PID/status, KiB.
    func peakRSSKiB() -> Int {
        guard let bytes = try? FileSystem.readFile("/proc/\(pid)/status") else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    func terminate() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

private func printToStandardError(_ text: String) {
    fputs(text + "\n", stderr)
}
