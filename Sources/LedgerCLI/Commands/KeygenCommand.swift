import LedgerCore
import LedgerPosix

/// `ledgerctl keygen --out FILE`: creates an Ed25519 host key. The private key file
/// is created with mode 0600 and never overwritten; the public key is printed as
/// base64 of its raw 32 bytes (what `ledger-server hosts add` takes) and, with
/// `--public-out`, written next to it.
enum KeygenCommand {
    static let usage = """
        usage: ledgerctl keygen --out FILE [--public-out FILE]
          Creates an Ed25519 private key in FILE (mode 0600; an existing file is never overwritten)
          and prints the public key as base64 of its 32 raw bytes.
          --public-out FILE   also write the public key file (mode 0644)
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var out: String?
        var publicOut: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": print(usage); return 0
            case "--out", "--public-out":
                guard index + 1 < arguments.count else { throw CLIError("keygen: \(argument) needs a FILE\n\(usage)", status: 2) }
                if argument == "--out" { out = arguments[index + 1] } else { publicOut = arguments[index + 1] }
                index += 1
            default:
                throw CLIError("keygen: unknown argument \(argument)\n\(usage)", status: 2)
            }
            index += 1
        }
        guard let out else { throw CLIError("keygen: --out FILE is required\n\(usage)", status: 2) }
        let key = try Ed25519PrivateKey()
        do {
            try KeyFile.writePrivateKey(key, to: out)
            if let publicOut { try KeyFile.writePublicKey(key.publicKey, to: publicOut) }
        } catch {
            throw CLIError("ledgerctl keygen: \(error)")
        }
        print(key.publicKey.base64)
        return 0
    }
}
