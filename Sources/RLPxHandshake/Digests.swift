import Crypto
import Foundation

/// The two SHA-256 primitives ECIES needs, named so the published SHA-256 and HMAC vectors
/// (ecies.json, from the cpp-ethereum tests) can check exactly what ECIES calls.
enum Digests {
    static func sha256<D: DataProtocol>(_ data: D) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    static func hmacSHA256(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        for part in parts { mac.update(data: part) }
        return Array(mac.finalize())
    }

    /// Constant-time comparison of a received tag with the expected one: the tag is secret-
    /// dependent, so an early-exit compare would leak how many leading bytes matched.
    static func constantTimeEqual(_ a: ArraySlice<UInt8>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}
