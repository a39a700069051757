import RLPxFrame
import Secp256k1

/// What a completed handshake yields to the frame layer and the peer checks.
public struct HandshakeResult: Sendable {
    /// Secrets and MAC states for this side (egress = what we send).
    public let secrets: SessionSecrets
    /// The remote's static public key; its `raw64` is the remote node ID.
    public let remotePublicKey: PublicKey
    /// The format of the packet the remote sent.
    public let remoteFormat: HandshakeFormat
    /// The auth-vsn / ack-vsn the remote advertised (nil for legacy). Informational only: EIP-8
    /// requires accepting any version.
    public let remoteVersion: UInt64?
    public let remoteEphemeralPublicKey: PublicKey
    public let remoteNonce: [UInt8]
}

/// The responder's result: the ack to send back, and the session it establishes.
public struct ResponderOutcome: Sendable {
    /// Send these bytes to the initiator; the session secrets already account for them.
    public let ackPacket: [UInt8]
    public let result: HandshakeResult
}
