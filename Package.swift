// swift-tools-version:6.0
// Ledger: a tamper-evident audit trail for AI agents.
// No SwiftPM package dependencies: only the toolchain and system C libraries
// (see the `.systemLibrary` targets below and `make deps`).
import PackageDescription

/// Targets that drive C callbacks and POSIX threads are compiled in the Swift 5
/// language mode; their cross-thread state is guarded by locks and documented
/// at each site. Pure logic (`LedgerCore`) uses the Swift 6 mode.
let swift5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "Ledger",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ledgerd", targets: ["ledgerd"]),
        .executable(name: "ledger-relay", targets: ["ledger-relay"]),
        .executable(name: "ledger-server", targets: ["ledger-server"]),
        .executable(name: "ledgerctl", targets: ["ledgerctl"]),
        .executable(name: "ledger-bench", targets: ["ledger-bench"]),
    ],
    targets: [
        // System libraries (Debian package names in `providers`).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        // ledger-relay's HTTP client (docs/RELAY.md says why not URLSession).
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Pure record logic: JSON, canonical form, records, chains, verification,
        // batch format, keys, compression. No file or network I/O.
        .target(name: "LedgerCore", dependencies: ["CZlib", "CCrypto"]),
        // The one place that talks to the kernel: file descriptors, errno, key files,
        // configuration files, logging.
        .target(name: "LedgerPosix", dependencies: ["LedgerCore"], swiftSettings: swift5),
        // The host journal: segment format, writer, reader, recovery. Shared by ledgerd (writes),
        // ledger-relay and ledgerctl (read).
        .target(name: "LedgerJournal", dependencies: ["LedgerCore", "LedgerPosix"], swiftSettings: swift5),
        .target(
            name: "LedgerDaemon", dependencies: ["LedgerCore", "LedgerPosix", "LedgerJournal"],
            swiftSettings: swift5),
        .target(
            name: "LedgerRelay", dependencies: ["LedgerCore", "LedgerPosix", "LedgerJournal", "CCurl"],
            swiftSettings: swift5),
        .target(
            name: "LedgerServer",
            dependencies: ["LedgerCore", "LedgerPosix", "CSQLite", "CMicroHTTPD", "CLibPQ"],
            swiftSettings: swift5),
        .target(
            name: "LedgerCLI", dependencies: ["LedgerCore", "LedgerPosix", "LedgerJournal", "LedgerRelay"],
            swiftSettings: swift5),

        // Executables: parse flags, call into the libraries.
        .executableTarget(name: "ledgerd", dependencies: ["LedgerDaemon", "LedgerPosix"], swiftSettings: swift5),
        .executableTarget(name: "ledger-relay", dependencies: ["LedgerRelay", "LedgerPosix"], swiftSettings: swift5),
        .executableTarget(name: "ledger-server", dependencies: ["LedgerServer", "LedgerPosix"], swiftSettings: swift5),
        .executableTarget(name: "ledgerctl", dependencies: ["LedgerCLI"], swiftSettings: swift5),
        .executableTarget(
            name: "ledger-bench", dependencies: ["LedgerCore", "LedgerPosix"], swiftSettings: swift5),

        .testTarget(
            name: "LedgerCoreTests", dependencies: ["LedgerCore"],
            resources: [.copy("Vectors")]),
        .testTarget(name: "LedgerPosixTests", dependencies: ["LedgerPosix", "LedgerCore"], swiftSettings: swift5),
        .testTarget(
            name: "LedgerJournalTests", dependencies: ["LedgerJournal", "LedgerPosix", "LedgerCore"],
            swiftSettings: swift5),
        .testTarget(
            name: "LedgerDaemonTests", dependencies: ["LedgerDaemon", "LedgerPosix", "LedgerCore"],
            swiftSettings: swift5),
        .testTarget(
            name: "LedgerServerTests", dependencies: ["LedgerServer", "LedgerPosix", "LedgerCore"],
            swiftSettings: swift5),
        .testTarget(
            name: "LedgerRelayTests", dependencies: ["LedgerRelay", "LedgerPosix", "LedgerCore", "LedgerJournal"],
            swiftSettings: swift5),
        .testTarget(
            name: "LedgerCLITests", dependencies: ["LedgerCLI", "LedgerCore", "LedgerPosix"], swiftSettings: swift5),
        .testTarget(name: "EndToEndTests", dependencies: ["LedgerCore", "LedgerPosix"], swiftSettings: swift5),
    ]
)
