import CSecp256k1

/// A point on secp256k1, validated on construction.
///
/// Stored as the 64-byte x||y form because that is devp2p's node ID and what is hashed and
/// compared everywhere; libsecp256k1's opaque form is rebuilt per operation (a cheap on-curve
/// check for an uncompressed point).
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// x||y, 32 bytes each, big-endian: the devp2p node ID form.
    public let raw64: [UInt8]

    /// Accepts 64-byte x||y, 65-byte 0x04||x||y or 33-byte compressed (0x02/0x03||x).
    public init(bytes: [UInt8]) throws(Secp256k1Error) {
        let encoded: [UInt8]
        switch bytes.count {
        case 64: encoded = [0x04] + bytes
        case 65, 33: encoded = bytes
        default: throw .publicKeyWrongLength(bytes.count)
        }
        var point = secp256k1_pubkey()
        // libsecp256k1 checks the prefix byte and that the point is on the curve. It also accepts
        // the "hybrid" 0x06/0x07 prefixes; devp2p never uses them, so refuse those first.
        if encoded.count == 65 && encoded[0] != 0x04 { throw .publicKeyNotOnCurve }
        guard secp256k1_ec_pubkey_parse(SharedContext.shared.pointer, &point, encoded, encoded.count) == 1 else {
            throw .publicKeyNotOnCurve
        }
        self.init(point: point)
    }

    init(point: secp256k1_pubkey) {
        var p = point
        var out = [UInt8](repeating: 0, count: 65)
        var len = 65
        let ok = secp256k1_ec_pubkey_serialize(SharedContext.shared.pointer, &out, &len, &p,
                                               UInt32(SECP256K1_EC_UNCOMPRESSED))
        precondition(ok == 1 && len == 65 && out[0] == 0x04, "secp256k1: serialization of a valid point failed")
        raw64 = Array(out[1...])
    }

    /// 0x04 || x || y (SEC 1 uncompressed).
    public var uncompressed65: [UInt8] { [0x04] + raw64 }

    /// 0x02/0x03 || x (SEC 1 compressed).
    public var compressed33: [UInt8] {
        [raw64[63] & 1 == 0 ? 0x02 : 0x03] + raw64[0..<32]
    }

    /// The point in libsecp256k1's opaque form, for the library calls.
    var point: secp256k1_pubkey {
        var p = secp256k1_pubkey()
        let encoded = uncompressed65
        let ok = secp256k1_ec_pubkey_parse(SharedContext.shared.pointer, &p, encoded, encoded.count)
        precondition(ok == 1, "secp256k1: re-parsing a validated point failed")
        return p
    }

    public var description: String {
        "PublicKey(" + raw64.prefix(8).map { String($0, radix: 16).leftPadded(2) }.joined() + "…)"
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
