import Testing
@testable import LedgerPosix

@Suite struct ConfigurationTests {
    static let spec = ConfigurationSpec(
        program: "ledgerd", synopsis: "[options] [COMMAND ARGS...]", summary: "Ledger host daemon.",
        options: [
            ConfigOption("config", env: "LEDGER_CONFIG", default: "/nonexistent/ledger.env", valueName: "FILE",
                         help: "EnvironmentFile with LEDGER_* settings."),
            ConfigOption("data-dir", env: "LEDGER_DATA_DIR", default: "/default", valueName: "DIR",
                         help: "Journal directory."),
            ConfigOption("workers", env: "LEDGER_WORKERS", kind: .int, default: "2", help: "Worker threads."),
            ConfigOption("max-size", env: "LEDGER_MAX_SIZE", kind: .byteSize, default: "10GiB", help: "Journal size limit."),
            ConfigOption("retention", env: "LEDGER_RETENTION", kind: .duration, default: "7d", help: "Keep records this long."),
            ConfigOption("verbose", env: "LEDGER_VERBOSE", kind: .flag, help: "Log more."),
            ConfigOption("socket-group", env: "LEDGER_SOCKET_GROUP", help: "Group of the socket."),
            ConfigOption("dry-run", kind: .flag, help: "Check the configuration and exit."),
        ],
        configFileOption: "config")

    /// Runs `body` with an EnvironmentFile holding `text`.
    private func withFile<R>(_ text: String, _ body: (String) throws -> R) throws -> R {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.env"
            try FileSystem.writeAtomically(Array(text.utf8), to: path)
            return try body(path)
        }
    }

    // Precedence: flag > environment > file > default, for each combination of sources present.
    @Test(arguments: [
        (true, true, true, "/flag", ValueSource.commandLine),
        (true, true, false, "/flag", .commandLine),
        (true, false, true, "/flag", .commandLine),
        (true, false, false, "/flag", .commandLine),
        (false, true, true, "/env", .environment("LEDGER_DATA_DIR")),
        (false, true, false, "/env", .environment("LEDGER_DATA_DIR")),
        (false, false, true, "/file", .file(path: "FILE", line: 2)),
        (false, false, false, "/default", .defaultValue),
    ])
    func precedence(flag: Bool, env: Bool, file: Bool, expected: String, source: ValueSource) throws {
        try withFile("# settings\n\(file ? "LEDGER_DATA_DIR=/file" : "OTHER=1")\n") { path in
            var environment = ["LEDGER_CONFIG": path]
            if env { environment["LEDGER_DATA_DIR"] = "/env" }
            let config = try Self.spec.parse(flag ? ["--data-dir", "/flag"] : [], environment: environment)
            #expect(config.string("data-dir") == expected)
            let expectedSource: ValueSource = source == .file(path: "FILE", line: 2) ? .file(path: path, line: 2) : source
            #expect(config.source(of: "data-dir") == expectedSource)
        }
    }

    @Test func typed_values_from_all_sources() throws {
        try withFile("LEDGER_MAX_SIZE=512MiB\nLEDGER_RETENTION='30s'\nLEDGER_UNKNOWN_FOR_RELAY=x\n") { path in
            let config = try Self.spec.parse(
                ["--workers=8", "--verbose"], environment: ["LEDGER_CONFIG": path, "LEDGER_SOCKET_GROUP": "ledger"])
            #expect(config.int("workers") == 8)
            #expect(config.bytes("max-size") == 512 << 20)
            #expect(config.duration("retention") == .seconds(30))
            #expect(config.flag("verbose"))
            #expect(!config.flag("dry-run"))
            #expect(config.string("socket-group") == "ledger")
            #expect(config.string("max-size") == "512MiB")
        }
    }

    @Test func defaults_apply_and_unset_options_are_nil() throws {
        let config = try Self.spec.parse([], environment: [:])
        #expect(config.int("workers") == 2)
        #expect(config.bytes("max-size") == 10 << 30)
        #expect(config.duration("retention") == .seconds(7 * 86_400))
        #expect(config.string("socket-group") == nil)
        #expect(config.source(of: "socket-group") == nil)
        #expect(!config.flag("verbose"))
        #expect(!config.helpRequested)
    }

    @Test func empty_environment_variable_counts_as_unset() throws {
        let config = try Self.spec.parse([], environment: ["LEDGER_DATA_DIR": "", "LEDGER_WORKERS": ""])
        #expect(config.string("data-dir") == "/default")
        #expect(config.int("workers") == 2)
    }

    @Test(arguments: [
        (["--verbose"], [:], true), (["--verbose=false"], ["LEDGER_VERBOSE": "yes"], false),
        ([], ["LEDGER_VERBOSE": "on"], true), ([], ["LEDGER_VERBOSE": "0"], false), ([], [:], false),
    ] as [([String], [String: String], Bool)])
    func flags(arguments: [String], environment: [String: String], value: Bool) throws {
        #expect(try Self.spec.parse(arguments, environment: environment).flag("verbose") == value)
    }

    @Test func positionals_are_returned_in_order_around_options() throws {
        let config = try Self.spec.parse(
            ["hosts", "--data-dir", "/d", "add", "--verbose", "host-1", "-", "--", "--not-an-option", "-x"],
            environment: [:])
        #expect(config.positionals == ["hosts", "add", "host-1", "-", "--not-an-option", "-x"])
        #expect(config.string("data-dir") == "/d")
        #expect(config.flag("verbose"))
    }

    @Test func unknown_flag_names_it_suggests_a_match_and_points_to_help() {
        let error = #expect(throws: ConfigurationError.self) { _ = try Self.spec.parse(["--data-dri", "/x"], environment: [:]) }
        #expect(error == .unknownOption("--data-dri", program: "ledgerd", suggestion: "--data-dir"))
        #expect(error?.description == "unknown option '--data-dri' (did you mean '--data-dir'?); run 'ledgerd --help' to list the options")

        let other = #expect(throws: ConfigurationError.self) { _ = try Self.spec.parse(["--zzzzzzzz=1"], environment: [:]) }
        #expect(other == .unknownOption("--zzzzzzzz", program: "ledgerd", suggestion: nil))
        #expect(throws: ConfigurationError.unknownOption("-v", program: "ledgerd", suggestion: nil)) {
            _ = try Self.spec.parse(["-v"], environment: [:])
        }
    }

    @Test func option_without_its_value_is_an_error() {
        #expect(throws: ConfigurationError.missingValue(option: "--data-dir")) {
            _ = try Self.spec.parse(["--data-dir"], environment: [:])
        }
    }

    @Test func bad_values_name_the_option_value_and_source() throws {
        let fromFlag = #expect(throws: ConfigurationError.self) {
            _ = try Self.spec.parse(["--max-size", "10XB"], environment: [:])
        }
        #expect(fromFlag?.description == "invalid value '10XB' for --max-size (from command line): expected a byte size such as 4096, 512MiB, 10GiB or 4MB")

        let fromEnv = #expect(throws: ConfigurationError.self) {
            _ = try Self.spec.parse([], environment: ["LEDGER_RETENTION": "forever"])
        }
        #expect(fromEnv == .invalidValue(
            option: "--retention", value: "forever", source: "environment variable LEDGER_RETENTION",
            expected: ConfigOption.Kind.duration.expectation))

        try withFile("\nLEDGER_WORKERS=many\n") { path in
            let fromFile = #expect(throws: ConfigurationError.self) {
                _ = try Self.spec.parse(["--config", path], environment: [:])
            }
            #expect(fromFile?.description.contains("'many' for --workers (from \(path):2)") == true)
        }
        #expect(throws: ConfigurationError.self) { _ = try Self.spec.parse(["--verbose=maybe"], environment: [:]) }
    }

    @Test func a_bad_value_hidden_by_a_higher_source_is_not_reported() throws {
        let config = try Self.spec.parse(["--workers", "3"], environment: ["LEDGER_WORKERS": "lots"])
        #expect(config.int("workers") == 3)
    }

    @Test func malformed_file_line_fails_parsing_with_its_line_number() throws {
        try withFile("LEDGER_DATA_DIR=/x\n\nexport LEDGER_WORKERS=3\n") { path in
            let error = #expect(throws: ConfigurationError.self) {
                _ = try Self.spec.parse([], environment: ["LEDGER_CONFIG": path])
            }
            #expect(error?.description.hasPrefix("\(path):3: 'export' is not allowed") == true)
        }
    }

    @Test func missing_default_file_is_skipped_but_an_explicit_one_is_an_error() throws {
        #expect(try Self.spec.parse([], environment: [:]).string("data-dir") == "/default")
        #expect(throws: ConfigurationError.self) {
            _ = try Self.spec.parse(["--config", "/nonexistent/explicit.env"], environment: [:])
        }
        #expect(throws: ConfigurationError.self) {
            _ = try Self.spec.parse([], environment: ["LEDGER_CONFIG": "/nonexistent/explicit.env"])
        }
    }

    @Test(arguments: [["--help"], ["-h"], ["--bogus", "--help"], ["hosts", "-h", "--workers=x"]])
    func help_wins_over_everything(arguments: [String]) throws {
        let config = try Self.spec.parse(arguments, environment: [:])
        #expect(config.helpRequested)
        #expect(config.int("workers") == 2)
    }

    @Test func help_after_double_dash_is_a_positional() throws {
        let config = try Self.spec.parse(["--", "--help"], environment: [:])
        #expect(!config.helpRequested)
        #expect(config.positionals == ["--help"])
    }

    @Test func help_text_lists_every_option_with_default_and_variable() {
        let text = Self.spec.helpText()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "Usage: ledgerd [options] [COMMAND ARGS...]")
        #expect(lines[2] == "Ledger host daemon.")
        #expect(lines.contains("  --data-dir DIR        Journal directory. [default: /default; env: LEDGER_DATA_DIR]"))
        #expect(lines.contains("  --max-size SIZE       Journal size limit. [default: 10GiB; env: LEDGER_MAX_SIZE]"))
        #expect(lines.contains("  --verbose             Log more. [env: LEDGER_VERBOSE]"))
        #expect(lines.contains("  --dry-run             Check the configuration and exit."))
        #expect(lines.contains("  -h, --help            Show this help and exit."))
        #expect(text.contains("Sizes: "))
        #expect(text.contains("Durations: "))
        for option in Self.spec.options {
            #expect(text.contains("--\(option.name)"))
        }
    }
}
