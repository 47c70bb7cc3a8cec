/// `ledgerctl keygen --out FILE`: lands with the key file support.
enum KeygenCommand {
    static func run(_ arguments: [String]) throws -> Int32 {
        throw CLIError("keygen: not available yet")
    }
}
