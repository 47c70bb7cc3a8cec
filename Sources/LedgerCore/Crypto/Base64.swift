// Strict, canonical-only standard base64 (RFC 4648 §4, with padding) for key
// material. Foundation decodes; the strictness comes from re-encoding and
// comparing, so exactly one spelling of each value is accepted: no
// whitespace, no missing padding, no non-zero bits in the final character.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Shared by LedgerCore's key types and LedgerPosix's key files.
package enum Base64 {
    /// Standard base64 with padding.
    package static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes `text`, which must be the canonical base64 of exactly
    /// `byteCount` bytes. `what` names the value in the error.
    package static func decode(_ text: String, byteCount: Int, what: String) throws(CryptoError) -> [UInt8] {
        let expectedLength = (byteCount + 2) / 3 * 4
        guard text.utf8.count == expectedLength else {
            throw .invalidBase64(
                what: what,
                reason: "expected \(expectedLength) characters for \(byteCount) bytes, got \(text.utf8.count)")
        }
        guard let data = Data(base64Encoded: text), data.count == byteCount,
            data.base64EncodedString() == text
        else {
            throw .invalidBase64(
                what: what, reason: "not canonical standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding)")
        }
        return Array(data)
    }
}
