// The one place libcrypto failures become Swift errors: every OpenSSL call
// site in LedgerCore reports through `CryptoError.libcrypto(_:)`, which drains
// the thread's OpenSSL error queue into the message.

internal import CCrypto

/// Errors from key handling and signing.
public enum CryptoError: Error, Equatable, Sendable {
    /// A key, seed or signature had the wrong number of bytes (`expected`, got
    /// `actual`). The input is truncated or is not an Ed25519 value; the
    /// operator should check which file or field it came from.
    case invalidLength(what: String, expected: Int, actual: Int)

    /// Text that should be the standard base64 of a key was not: wrong length,
    /// characters outside the alphabet, missing padding, whitespace or
    /// non-canonical trailing bits. The operator should re-export the key
    /// rather than hand-edit it.
    case invalidBase64(what: String, reason: String)

    /// libcrypto refused an operation (`operation` names the call) with the
    /// messages from its error queue. Usually a broken OpenSSL installation
    /// (missing default provider) or memory exhaustion; the operator should
    /// check `openssl version` and the process's memory limit.
    case libcrypto(operation: String, message: String)

    /// The error for a failed libcrypto call, with the error queue's messages.
    static func libcrypto(_ operation: String) -> CryptoError {
        .libcrypto(operation: operation, message: drainErrorQueue())
    }

    /// Reads and clears this thread's OpenSSL error queue. The queue is
    /// per-thread and would otherwise leak stale errors into a later report.
    static func drainErrorQueue() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            // ERR_error_string_n writes at most len bytes, NUL included.
            var buffer = [CChar](repeating: 0, count: 256)
            // SAFETY: `buffer` has `buffer.count` writable bytes for the call.
            buffer.withUnsafeMutableBufferPointer { out in
                ERR_error_string_n(code, out.baseAddress, out.count)
            }
            let end = buffer.firstIndex(of: 0) ?? buffer.endIndex
            messages.append(String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no error reported by libcrypto" : messages.joined(separator: "; ")
    }
}

extension CryptoError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case let .invalidBase64(what, reason):
            return "\(what) is not valid base64: \(reason)"
        case let .libcrypto(operation, message):
            return "libcrypto \(operation) failed: \(message)"
        }
    }
}
