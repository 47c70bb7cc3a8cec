import Foundation
import LedgerPosix
import Testing

/// systemd/: the units load cleanly in systemd's own parser, every service carries the
/// hardening options and says why it leaves any out, and sysusers/tmpfiles produce the
/// documented accounts, directories and modes.
@Suite struct SystemdUnitTests {
    static let units = ["ledgerd.socket", "ledgerd.service", "ledger-relay.service", "ledger-server.service"]
    static let services = ["ledgerd.service", "ledger-relay.service", "ledger-server.service"]
    static let hasAnalyze = Paths.onPath("systemd-analyze") != nil

    static func unitText(_ name: String) throws -> String {
        try String(contentsOfFile: Paths.repo("systemd/\(name)"), encoding: .utf8)
    }

    /// `Key=value` settings of a unit (comments dropped), in file order.
    static func settings(_ text: String) -> [(String, String)] {
        text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), !trimmed.hasPrefix("["), let equals = trimmed.firstIndex(of: "=") else {
                return nil
            }
            return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
        }
    }

    /// A root directory for `systemd-analyze --root`: the host's unit library (for targets
    /// such as sysinit.target), the built programs at their installed paths, and our units.
    final class AnalyzeRoot {
        let directory: TemporaryDirectory
        var root: String { directory.path }
        var unitDirectory: String { root + "/etc/systemd/system" }

        init() throws {
            directory = try TemporaryDirectory("ledger-systemd")
            let fm = FileManager.default
            try fm.createDirectory(atPath: root + "/usr/lib/systemd", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/usr/local/bin", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: unitDirectory, withIntermediateDirectories: true)
            let library = ["/usr/lib/systemd/system", "/lib/systemd/system"].first { fm.fileExists(atPath: $0 + "/sysinit.target") }
            guard let library else { throw TestFailure("no systemd unit library (sysinit.target) on this machine") }
            // cp -a keeps the library's own symlinks relative to it.
            let copied = try run("/bin/cp", ["-a", library, root + "/usr/lib/systemd/system"])
            guard copied.status == 0 else { throw TestFailure("cp -a \(library): \(copied.stderr)") }
            for program in ["ledgerd", "ledger-relay", "ledger-server"] {
                try fm.copyItem(atPath: Paths.binary(program), toPath: root + "/usr/local/bin/" + program)
            }
            for unit in SystemdUnitTests.units {
                try fm.copyItem(atPath: Paths.repo("systemd/\(unit)"), toPath: unitDirectory + "/" + unit)
            }
        }

        func verify(_ names: [String]) throws -> Finished {
            try run(Paths.onPath("systemd-analyze")!, ["verify", "--root=\(root)"] + names.map { unitDirectory + "/" + $0 })
        }
    }

    @Test(.enabled(if: hasAnalyze, "systemd-analyze is not installed; unit files not checked"))
    func everyUnitPassesSystemdAnalyzeVerifyWithoutAWarning() throws {
        let root = try AnalyzeRoot()
        let result = try root.verify(Self.units)
        #expect(result.status == 0)
        // systemd-analyze exits 0 on unknown keys and bad values ("…, ignoring."): any output fails.
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")

        // The check is strict: a misspelled key and a bad value in a copy are reported.
        let broken = try Self.unitText("ledgerd.service")
            .replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSystem=strictly\nProtectKernelTunable=yes")
        try broken.write(toFile: root.unitDirectory + "/broken.service", atomically: true, encoding: .utf8)
        let complaint = try root.verify(["broken.service"])
        #expect(complaint.stderr.contains("ProtectKernelTunable"))
        #expect(complaint.stderr.contains("strictly"))
    }

    @Test(.enabled(if: hasAnalyze, "systemd-analyze is not installed; unit files not checked"))
    func everyUnitNamesAnExecutableThatExists() throws {
        let root = try AnalyzeRoot()
        try FileManager.default.removeItem(atPath: root.root + "/usr/local/bin/ledger-relay")
        let result = try root.verify(["ledger-relay.service"])
        #expect(result.status != 0, "systemd-analyze verify must check ExecStart binaries")
        #expect(result.stderr.contains("/usr/local/bin/ledger-relay"))
    }

    @Test(.enabled(if: hasAnalyze, "systemd-analyze is not installed; exposure not checked"))
    func everyServiceIsRatedSafeOrOKBySystemdAnalyzeSecurity() throws {
        let root = try AnalyzeRoot()
        for service in Self.services {
            let result = try run(Paths.onPath("systemd-analyze")!,
                                 ["security", "--offline=yes", "--root=\(root.root)", root.unitDirectory + "/" + service])
            let marker = "Overall exposure level for \(service): "
            guard let range = result.stdout.range(of: marker) else {
                Issue.record("no exposure level for \(service): \(result.stdout) \(result.stderr)")
                continue
            }
            let score = Double(result.stdout[range.upperBound...].prefix { $0 == "." || $0.isNumber }) ?? 99
            #expect(score <= (service == "ledgerd.service" ? 1.0 : 2.0), "\(service) exposure \(score)")
        }
    }

    @Test func everyServiceCarriesTheHardeningOptions() throws {
        let required: [String: String] = [
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes",
            "ProtectHostname": "yes", "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
            "RestrictSUIDSGID": "yes", "SystemCallFilter": "@system-service", "SystemCallArchitectures": "native",
            "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "CapabilityBoundingSet": "",
        ]
        for service in Self.services {
            let text = try Self.unitText(service)
            let settings = Self.settings(text)
            for (key, value) in required {
                #expect(settings.contains { $0 == (key, value) }, "\(service): \(key)=\(value)")
            }
            #expect(settings.contains { $0.0 == "UMask" }, "\(service): UMask")
            #expect(settings.contains { $0.0 == "StateDirectory" }, "\(service): StateDirectory")
            #expect(settings.contains { $0.0 == "EnvironmentFile" && $0.1.hasPrefix("-/etc/ledger/") }, "\(service)")
            #expect(settings.contains { $0.0 == "ExecStart" && $0.1.hasPrefix("/usr/local/bin/") }, "\(service)")
            #expect(settings.contains { $0.0 == "User" && $0.1.hasPrefix("ledger") }, "\(service)")
            #expect(text.contains("# Left out, and why:"), "\(service) must say what it leaves out")
            let families = settings.filter { $0.0 == "RestrictAddressFamilies" }.map(\.1)
            if service == "ledgerd.service" {
                #expect(families == ["AF_UNIX"])
                #expect(settings.contains { $0 == ("PrivateNetwork", "yes") })
            } else {
                #expect(families == ["AF_UNIX AF_INET AF_INET6"])
            }
        }
        let socket = Self.settings(try Self.unitText("ledgerd.socket"))
        #expect(socket.contains { $0 == ("ListenStream", "/run/ledger.sock") })
        #expect(socket.contains { $0 == ("SocketMode", "0660") })
        #expect(socket.contains { $0 == ("SocketGroup", "ledger") })
    }

    /// ledgerd sends no sd_notify(READY=1), so its unit must not claim Type=notify.
    @Test func ledgerdIsTypeNotifyOnlyIfItNotifies() throws {
        var sources = ""
        for directory in ["Sources/LedgerDaemon", "Sources/ledgerd", "Sources/LedgerPosix"] {
            let enumerator = FileManager.default.enumerator(atPath: Paths.repo(directory))
            while let file = enumerator?.nextObject() as? String {
                guard file.hasSuffix(".swift") else { continue }
                sources += (try? String(contentsOfFile: Paths.repo("\(directory)/\(file)"), encoding: .utf8)) ?? ""
            }
        }
        let notifies = sources.contains("READY=1")
        let type = Self.settings(try Self.unitText("ledgerd.service")).first { $0.0 == "Type" }?.1
        #expect(type == (notifies ? "notify" : "simple"))
    }

    @Test(.enabled(if: Paths.onPath("systemd-sysusers") != nil && Paths.onPath("systemd-tmpfiles") != nil && geteuid() == 0,
                   "needs root and systemd-sysusers/systemd-tmpfiles; sysusers/tmpfiles not applied"))
    func sysusersAndTmpfilesCreateTheDocumentedAccountsAndDirectories() throws {
        let root = try TemporaryDirectory("ledger-sysusers")
        let fm = FileManager.default
        for directory in ["etc", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d"] {
            try fm.createDirectory(atPath: root.file(directory), withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: Paths.repo("systemd/ledger.sysusers"), toPath: root.file("usr/lib/sysusers.d/ledger.conf"))
        try fm.copyItem(atPath: Paths.repo("systemd/ledger.tmpfiles"), toPath: root.file("usr/lib/tmpfiles.d/ledger.conf"))
        let users = try run(Paths.onPath("systemd-sysusers")!, ["--root=\(root.path)"])
        #expect(users.status == 0, "\(users.stderr)")
        let files = try run(Paths.onPath("systemd-tmpfiles")!, ["--create", "--root=\(root.path)"])
        #expect(files.status == 0, "\(files.stderr)")

        func table(_ name: String) throws -> [String: [String]] {
            let text = try String(contentsOfFile: root.file("etc/\(name)"), encoding: .utf8)
            var rows: [String: [String]] = [:]
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                rows[fields[0]] = fields
            }
            return rows
        }
        let passwd = try table("passwd"), group = try table("group")
        let uid = { (name: String) in UInt32(passwd[name]?[2] ?? "") }
        let gid = { (name: String) in UInt32(group[name]?[2] ?? "") }
        for name in ["ledger", "ledger-relay", "ledger-server"] {
            #expect(uid(name) != nil, "user \(name)")
            #expect(gid(name) != nil, "group \(name)")
            #expect(passwd[name]?[6].hasSuffix("nologin") == true, "\(name) has no login shell")
        }
        #expect(group["ledger"]?[3].split(separator: ",").contains("ledger-relay") == true,
                "ledger-relay is a member of group ledger")

        let expected: [(String, UInt32, String, String)] = [
            ("etc/ledger", 0o755, "root", "root"),
            ("var/lib/ledger", 0o750, "ledger", "ledger"),
            ("var/lib/ledger-relay", 0o750, "ledger-relay", "ledger"),
            ("var/lib/ledger-server", 0o700, "ledger-server", "ledger-server"),
        ]
        for (path, mode, owner, ownerGroup) in expected {
            var info = stat()
            #expect(stat(root.file(path), &info) == 0, "\(path) exists")
            #expect(info.st_mode & 0o7777 == mode, "\(path) mode \(String(info.st_mode & 0o7777, radix: 8))")
            #expect(info.st_uid == (owner == "root" ? 0 : uid(owner)), "\(path) owner")
            #expect(info.st_gid == (ownerGroup == "root" ? 0 : gid(ownerGroup)), "\(path) group")
        }
        let link = try fm.destinationOfSymbolicLink(atPath: root.file("run/ledger.sock.admin"))
        #expect(link == "/run/ledger/admin.sock")
        let service = Self.settings(try Self.unitText("ledgerd.service"))
        #expect(service.contains { $0 == ("Environment", "LEDGER_ADMIN_SOCKET=\(link)") })
    }

    /// contrib/ledger.conf.example names every LEDGER_* variable the programs declare, at its declared default.
    @Test func theExampleConfigurationNamesEveryVariableAtItsDefault() throws {
        let example = try String(contentsOfFile: Paths.repo("contrib/ledger.conf.example"), encoding: .utf8)
        var shown: [String: [String]] = [:]
        for line in example.split(separator: "\n") where line.hasPrefix("#LEDGER_") {
            let body = line.dropFirst()
            let equals = body.firstIndex(of: "=")!
            shown[String(body[..<equals]), default: []].append(String(body[body.index(after: equals)...]))
        }
        let declarations = ["Sources/LedgerDaemon/DaemonConfiguration.swift", "Sources/LedgerServer/App/ServerCommandLine.swift",
                            "Sources/LedgerRelay/RelayConfiguration.swift"]
        var declared = 0
        let option = #/ConfigOption\(\s*"[a-z-]+",\s*env:\s*"(LEDGER_[A-Z_]+)"(?:,\s*kind:\s*\.[a-zA-Z]+)?(?:,\s*default:\s*"([^"]*)")?/#
        for file in declarations where FileManager.default.fileExists(atPath: Paths.repo(file)) {
            let source = try String(contentsOfFile: Paths.repo(file), encoding: .utf8)
            for match in source.matches(of: option) {
                declared += 1
                let name = String(match.1)
                #expect(shown[name] != nil, "\(name) (\(file)) is missing from contrib/ledger.conf.example")
                if let value = match.2, let values = shown[name] {
                    #expect(values.contains(String(value)), "\(name): example shows \(values), default is \(value)")
                }
            }
        }
        #expect(declared >= 25, "found only \(declared) option declarations; has the declaration syntax changed?")
        // The file is accepted by the programs' own EnvironmentFile parser with every line uncommented.
        let uncommented = example.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("#LEDGER_") ? String($0.dropFirst()) : String($0) }.joined(separator: "\n")
        let parsed = try EnvironmentFile.parse(Array(uncommented.utf8), path: "ledger.conf.example")
        #expect(parsed.entries["LEDGER_MAX_DISK"]?.value == "10GiB")
    }
}
