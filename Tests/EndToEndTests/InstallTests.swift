import Foundation
import Testing

/// `make install` / `make uninstall` (Makefile): the installed tree is exactly the one
/// docs/OPERATIONS.md documents, DESTDIR and PREFIX are respected, a real ledger.conf is never
/// touched, and the installed units still pass systemd-analyze. The test installs the
/// binaries already built next to the test bundle (SWIFT_BUILD_DIR), so it builds nothing.
@Suite struct InstallTests {
    /// `make -C <repo> TARGET DESTDIR=… SWIFT_BUILD_DIR=<build dir> EXTRA…` under umask 022.
    static func make(_ target: String, destdir: String, _ extra: [String] = []) throws -> Finished {
        let arguments = ([target, "DESTDIR=\(destdir)", "SWIFT_BUILD_DIR=\(Paths.binaries.path)"] + extra)
            .map { "'\($0)'" }.joined(separator: " ")
        return try run("/bin/sh", ["-c", "umask 022 && exec make -s -C '\(Paths.repoRoot.path)' \(arguments)"])
    }

    /// Every entry under `root` as "MODE path" (ls-style mode, path relative to root), sorted by path.
    static func tree(_ root: String) throws -> [String] {
        var entries: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            var info = stat()
            guard lstat(root + "/" + path, &info) == 0 else { throw TestFailure("lstat \(path)") }
            let kind: Character = (info.st_mode & S_IFMT) == S_IFDIR ? "d" : ((info.st_mode & S_IFMT) == S_IFLNK ? "l" : "-")
            var mode = String(kind)
            let bits = Array("rwxrwxrwx")
            for i in 0..<9 { mode.append(info.st_mode & (0o400 >> UInt32(i)) != 0 ? bits[i] : "-") }
            entries.append("\(mode) \(path)")
        }
        return entries.sorted { $0.split(separator: " ")[1] < $1.split(separator: " ")[1] }
    }

    /// The ```text install-tree block of docs/OPERATIONS.md: the documented result of
    /// `make install DESTDIR=…` with the default PREFIX.
    static func documentedTree() throws -> [String] {
        let document = try String(contentsOfFile: Paths.repo("docs/OPERATIONS.md"), encoding: .utf8)
        guard let start = document.range(of: "```text install-tree\n") else {
            throw TestFailure("docs/OPERATIONS.md has no ```text install-tree block")
        }
        let block = document[start.upperBound...].prefix { $0 != "`" }
        return block.split(separator: "\n").map { String($0) }
    }

    @Test func installPutsExactlyTheDocumentedTreeUnderDestdir() throws {
        let destdir = try TemporaryDirectory("ledger-install")
        let result = try Self.make("install", destdir: destdir.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let installed = try Self.tree(destdir.path)
        let documented = try Self.documentedTree()
        #expect(installed == documented,
                "installed but not documented: \(Set(installed).subtracting(documented).sorted()); documented but not installed: \(Set(documented).subtracting(installed).sorted())")
        // The programs are the built ones, byte for byte.
        for program in ["ledgerd", "ledger-relay", "ledger-server", "ledgerctl"] {
            #expect(FileManager.default.contentsEqual(atPath: destdir.file("usr/local/bin/\(program)"), andPath: Paths.binary(program)))
        }
        let help = try run(destdir.file("usr/local/bin/ledgerctl"), ["--help"])
        #expect(help.status == 0)
        let verifier = try run(try python3(), [destdir.file("usr/local/share/ledger/ledger_verify.py"), "--help"])
        #expect(verifier.status == 0 && verifier.stdout.contains("usage:"))
    }

    @Test func installNeverOverwritesARealLedgerConfAndUninstallLeavesIt() throws {
        let destdir = try TemporaryDirectory("ledger-install")
        try FileManager.default.createDirectory(atPath: destdir.file("etc/ledger"), withIntermediateDirectories: true)
        let mine = "LEDGER_HOST_ID=kept-as-is\n"
        try destdir.write("etc/ledger/ledger.conf", Array(mine.utf8))
        #expect(try Self.make("install", destdir: destdir.path).status == 0)
        #expect(try String(contentsOfFile: destdir.file("etc/ledger/ledger.conf"), encoding: .utf8) == mine)
        // A second install over the first succeeds and still leaves it alone.
        #expect(try Self.make("install", destdir: destdir.path).status == 0)
        #expect(try String(contentsOfFile: destdir.file("etc/ledger/ledger.conf"), encoding: .utf8) == mine)

        let uninstall = try Self.make("uninstall", destdir: destdir.path)
        #expect(uninstall.status == 0, "\(uninstall.stderr)")
        let files = try Self.tree(destdir.path).filter { !$0.hasPrefix("d") }
        #expect(files == ["-rw-r--r-- etc/ledger/ledger.conf"])
    }

    @Test func prefixUsrPutsUnitsUnderUsrLibAndPointsExecStartAtUsrBin() throws {
        let destdir = try TemporaryDirectory("ledger-install")
        let result = try Self.make("install", destdir: destdir.path, ["PREFIX=/usr"])
        #expect(result.status == 0, "\(result.stderr)")
        for (unit, command) in [("ledgerd.service", "/usr/bin/ledgerd"), ("ledger-relay.service", "/usr/bin/ledger-relay"),
                                ("ledger-server.service", "/usr/bin/ledger-server serve")] {
            let text = try String(contentsOfFile: destdir.file("usr/lib/systemd/system/\(unit)"), encoding: .utf8)
            #expect(text.contains("\nExecStart=\(command)\n"), "\(unit)")
            #expect(!text.contains("/usr/local/"), "\(unit)")
        }
        #expect(FileManager.default.fileExists(atPath: destdir.file("usr/lib/sysusers.d/ledger.conf")))
        #expect(FileManager.default.fileExists(atPath: destdir.file("usr/lib/tmpfiles.d/ledger.conf")))
        #expect(FileManager.default.isExecutableFile(atPath: destdir.file("usr/bin/ledgerd")))
        #expect(FileManager.default.fileExists(atPath: destdir.file("etc/ledger/ledger.conf.example")))
        #expect(!FileManager.default.fileExists(atPath: destdir.file("usr/local")))

        // The installed units, with their rewritten ExecStart=, load cleanly in systemd.
        guard let analyze = Paths.onPath("systemd-analyze") else {
            print("systemd-analyze is not installed; installed units not verified")
            return
        }
        let library = ["/usr/lib/systemd/system", "/lib/systemd/system"].first {
            FileManager.default.fileExists(atPath: $0 + "/sysinit.target")
        }
        guard let library else { throw TestFailure("no systemd unit library on this machine") }
        let copy = try run("/bin/sh", ["-c", "cp -a '\(library)'/. '\(destdir.file("usr/lib/systemd/system"))'/"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let units = ["ledgerd.socket", "ledgerd.service", "ledger-relay.service", "ledger-server.service"]
            .map { destdir.file("usr/lib/systemd/system/\($0)") }
        let verified = try run(analyze, ["verify", "--root=\(destdir.path)"] + units)
        #expect(verified.status == 0)
        #expect(verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified.stdout)\(verified.stderr)")
    }
}
