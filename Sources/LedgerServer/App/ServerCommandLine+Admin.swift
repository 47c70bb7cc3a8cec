import Foundation
import LedgerCore
import LedgerPosix

extension ServerCommandLine {
    /// hosts … and keys …, directly on the database (--database, else SQLite in --data-dir).
    static func admin(_ words: [String], _ config: Configuration) throws -> Int32 {
        let store = try LedgerServer.openStore(try settings(config), readers: 1)
        defer { store.close() }
        let arguments = Array(words.dropFirst(2))
        switch (words[0], words.count > 1 ? words[1] : "") {
        case ("hosts", "add"):
            guard arguments.count == 2, RelayBatch.isValidHostID(arguments[0]) else {
                throw ServerError.usage("usage: ledger-server hosts add HOST_ID PUBLIC_KEY_BASE64")
            }
            let key: Ed25519PublicKey
            do { key = try Ed25519PublicKey(base64: arguments[1]) } catch {
                throw ServerError.usage("PUBLIC_KEY must be a base64 Ed25519 public key: \(error)")
            }
            try store.addHost(id: arguments[0], publicKey: key.base64)
            print("enrolled \(arguments[0])")
        case ("hosts", "list"):
            print("HOST_ID\tKIND\tSTATUS\tHOST_SEQ\tRECORDS\tPUBLIC_KEY")
            for host in try store.hosts() {
                print("\(host.id)\t\(host.kind.rawValue)\t\(host.revoked ? "revoked" : "active")\t\(host.lastHostSeq)"
                      + "\t\(host.records)\t\(host.publicKey ?? "-")")
            }
        case ("hosts", "revoke"):
            guard arguments.count == 1 else { throw ServerError.usage("usage: ledger-server hosts revoke HOST_ID") }
            guard try store.revokeHost(id: arguments[0]) else {
                throw ServerError.usage("no enrolled relay host \(arguments[0])")
            }
            print("revoked \(arguments[0])")
        case ("hosts", "rotate"):
            guard arguments.count == 2 else {
                throw ServerError.usage("usage: ledger-server hosts rotate HOST_ID NEW_PUBLIC_KEY_BASE64")
            }
            let key: Ed25519PublicKey
            do { key = try Ed25519PublicKey(base64: arguments[1]) } catch {
                throw ServerError.usage("NEW_PUBLIC_KEY must be a base64 Ed25519 public key: \(error)")
            }
            guard try store.rotateHostKey(id: arguments[0], publicKey: key.base64) else {
                throw ServerError.usage("no enrolled relay host \(arguments[0])")
            }
            print("rotated the key of \(arguments[0]); batches signed with the old key now get 401")
        case ("hosts", "token"):
            let ttl = config.duration("token-ttl")?.components.seconds ?? 86_400
            print(try store.createEnrollmentToken(validMicros: Int64(ttl) * 1_000_000))
        case ("keys", "create"):
            guard let name = config.string("name"), !name.isEmpty else {
                throw ServerError.usage("usage: ledger-server keys create --name NAME --scopes write:events,read:events")
            }
            var scopes: [Scope] = []
            for text in (config.string("scopes") ?? "").split(separator: ",") {
                guard let scope = Scope(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                    throw ServerError.usage("unknown scope \(text); scopes are write:events, read:events, admin")
                }
                scopes.append(scope)
            }
            guard !scopes.isEmpty else { throw ServerError.usage("--scopes must name at least one scope") }
            let (secret, entry) = try store.createAPIKey(name: name, scopes: scopes)
            FileHandle.standardError.write(Data(
                "created key \(entry.id) (\(name), \(scopes.map(\.rawValue).joined(separator: ","))); shown once:\n".utf8))
            print(secret)
        case ("keys", "list"):
            print("KEY_ID\tNAME\tSCOPES\tSTATUS\tCREATED")
            for key in try store.apiKeys() {
                print("\(key.id)\t\(key.name)\t\(key.scopes.map(\.rawValue).joined(separator: ","))"
                      + "\t\(key.revoked ? "revoked" : "active")\t\(RFC3339.utcMicroseconds(key.createdAtMicros))")
            }
        case ("keys", "revoke"):
            guard arguments.count == 1 else { throw ServerError.usage("usage: ledger-server keys revoke KEY_ID") }
            guard try store.revokeAPIKey(id: arguments[0]) else { throw ServerError.usage("no key \(arguments[0])") }
            print("revoked \(arguments[0])")
        default:
            throw ServerError.usage("unknown command \(words.joined(separator: " ")); see --help")
        }
        return 0
    }
}
