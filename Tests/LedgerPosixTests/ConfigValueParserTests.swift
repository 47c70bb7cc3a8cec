import Testing
@testable import LedgerPosix

@Suite struct ConfigValueParserTests {
    @Test(arguments: [
        ("0", 0), ("4096", 4096), ("1B", 1), ("1K", 1024), ("1KiB", 1024), ("1kB", 1000), ("1KB", 1000),
        ("512MiB", 512 << 20), ("512M", 512 << 20), ("4MB", 4_000_000), ("10GiB", 10 << 30), ("10G", 10 << 30),
        ("2GB", 2_000_000_000), ("1TiB", 1 << 40), ("3TB", 3_000_000_000_000), ("007MiB", 7 << 20),
        ("9223372036854775807", Int.max), ("8589934591GiB", 8_589_934_591 << 30),
    ])
    func byte_sizes(text: String, bytes: Int) {
        #expect(ConfigValueParser.byteSize(text) == bytes)
    }

    @Test(arguments: [
        "", "10XB", "-1", "+1", "1.5GiB", " 1", "1 ", "1 GiB", "GiB", "10gib", "10mib", "10Gib", "1kiB", "0x10",
        "9223372036854775808", "99999999999999999999", "8589934592GiB", "9223372036854775807K", "1٣",
    ])
    func byte_size_rejects(text: String) {
        #expect(ConfigValueParser.byteSize(text) == nil)
    }

    @Test(arguments: [
        ("0", Duration.zero), ("30", .seconds(30)), ("30s", .seconds(30)), ("200ms", .milliseconds(200)),
        ("10us", .microseconds(10)), ("5m", .seconds(300)), ("5min", .seconds(300)), ("12h", .seconds(43_200)),
        ("7d", .seconds(604_800)), ("1w", .seconds(604_800)), ("1h30m", .seconds(5_400)),
        ("1d12h", .seconds(129_600)), ("1s500ms", .milliseconds(1_500)), ("0s", .zero),
    ])
    func durations(text: String, duration: Duration) {
        #expect(ConfigValueParser.duration(text) == duration)
    }

    @Test(arguments: [
        "", "-1s", "+1s", "1.5s", "10 s", " 10s", "1x", "s", "ms", "1h30", "1H", "1S", "10sec", "1d 2h",
        "99999999999999999999s", "300000000d", "9223372036854775807", "1y",
    ])
    func duration_rejects(text: String) {
        #expect(ConfigValueParser.duration(text) == nil)
    }

    @Test(arguments: [
        ("true", true), ("TRUE", true), ("yes", true), ("on", true), ("1", true),
        ("false", false), ("No", false), ("off", false), ("0", false),
    ])
    func booleans(text: String, value: Bool) {
        #expect(ConfigValueParser.bool(text) == value)
    }

    @Test(arguments: ["", "y", "2", "truee", " true"])
    func boolean_rejects(text: String) {
        #expect(ConfigValueParser.bool(text) == nil)
    }

    @Test(arguments: [("0", 0), ("8", 8), ("-1", -1), ("-9223372036854775808", Int.min)])
    func integers(text: String, value: Int) {
        #expect(ConfigValueParser.int(text) == value)
    }

    @Test(arguments: ["", "-", "+5", " 5", "5 ", "1e3", "0x10", "9223372036854775808", "--1", "1_000"])
    func integer_rejects(text: String) {
        #expect(ConfigValueParser.int(text) == nil)
    }
}
