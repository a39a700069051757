import Keccak

/// The key material an RLPx handshake produces and the frame layer consumes
/// (devp2p rlpx.md, "Secrets"): AES and MAC secrets and the two running MAC states.
///
/// `egressMAC` is seeded with `(mac-secret ^ remote-nonce) || auth-or-ack-sent` and
/// `ingressMAC` with `(mac-secret ^ own-nonce) || auth-or-ack-received`.
public struct SessionSecrets: Sendable {
    public var aesSecret: [UInt8]      // 32 bytes: AES-256-CTR key for frame headers and bodies
    public var macSecret: [UInt8]      // 32 bytes: AES-256 key for the MAC update
    public var egressMAC: Keccak256
    public var ingressMAC: Keccak256

    public init(aesSecret: [UInt8], macSecret: [UInt8], egressMAC: Keccak256, ingressMAC: Keccak256) {
        precondition(aesSecret.count == 32 && macSecret.count == 32, "RLPx secrets are 32 bytes")
        self.aesSecret = aesSecret
        self.macSecret = macSecret
        self.egressMAC = egressMAC
        self.ingressMAC = ingressMAC
    }
}
