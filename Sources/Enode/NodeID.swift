import Keccak
import Secp256k1

/// A devp2p node identity: the 64-byte uncompressed secp256k1 public key without its 0x04 prefix
/// (devp2p rlpx.md, the "v4" identity scheme). Always a valid curve point.
public struct NodeID: Hashable, Sendable, CustomStringConvertible {
    public static let length = 64

    public let publicKey: PublicKey

    public init(publicKey: PublicKey) {
        self.publicKey = publicKey
    }

    /// From the 64 raw bytes (as in Hello or the handshake).
    public init(bytes: [UInt8]) throws(EnodeError) {
        guard bytes.count == Self.length else { throw .nodeIDWrongLength(bytes.count * 2) }
        do { publicKey = try PublicKey(bytes: bytes) } catch { throw .nodeIDNotOnCurve }
    }

    /// From 128 hex characters, either case.
    public init(hex: String) throws(EnodeError) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == Self.length * 2 else { throw .nodeIDWrongLength(utf8.count) }
        guard let bytes = Hex.decode(utf8) else { throw .nodeIDNotHex }
        try self.init(bytes: bytes)
    }

    /// The 64 bytes x || y.
    public var bytes: [UInt8] { publicKey.raw64 }

    /// 128 lowercase hex characters.
    public var hex: String { Hex.encode(bytes) }

    /// keccak256 of the 64 bytes: the ID the discovery table and ENR use (go-ethereum `enode.ID`).
    public var hash: [UInt8] { Keccak256.hash(bytes) }

    public var description: String { hex }
}
