import Keccak
import RLPxFrame
import Secp256k1

/// Which end of the connection a side is.
public enum HandshakeRole: Sendable, Equatable {
    case initiator
    case recipient
}

/// The session-secret derivation of devp2p rlpx.md ("Secrets"):
///
///     ephemeral-key = ecdh(ephemeral-privk, remote-ephemeral-pubk)
///     shared-secret = keccak256(ephemeral-key || keccak256(recipient-nonce || initiator-nonce))
///     aes-secret    = keccak256(ephemeral-key || shared-secret)
///     mac-secret    = keccak256(ephemeral-key || aes-secret)
///     egress-mac    = keccak256.init((mac-secret ^ remote-nonce) || packet sent)
///     ingress-mac   = keccak256.init((mac-secret ^ own-nonce) || packet received)
///
/// The packets are the whole packets as on the wire, EIP-8 size prefix included.
public enum HandshakeSecrets {
    public static func derive(role: HandshakeRole, ephemeralKey: PrivateKey, remoteEphemeralKey: PublicKey,
                              initiatorNonce: [UInt8], recipientNonce: [UInt8],
                              authPacket: [UInt8], ackPacket: [UInt8]) throws(HandshakeError) -> SessionSecrets {
        let shared: [UInt8]
        do { shared = try ecdh(privateKey: ephemeralKey, publicKey: remoteEphemeralKey) } catch { throw .keyAgreement(error) }
        let material = KeyMaterial(ephemeralSharedSecret: shared, initiatorNonce: initiatorNonce, recipientNonce: recipientNonce)

        // The initiator's egress MAC is keyed with the recipient's nonce and covers auth; the
        // recipient's ingress MAC is the same state. And symmetrically for ack.
        var authMAC = Keccak256()
        authMAC.update(xor(material.macSecret, recipientNonce))
        authMAC.update(authPacket)
        var ackMAC = Keccak256()
        ackMAC.update(xor(material.macSecret, initiatorNonce))
        ackMAC.update(ackPacket)

        switch role {
        case .initiator:
            return SessionSecrets(aesSecret: material.aesSecret, macSecret: material.macSecret, egressMAC: authMAC, ingressMAC: ackMAC)
        case .recipient:
            return SessionSecrets(aesSecret: material.aesSecret, macSecret: material.macSecret, egressMAC: ackMAC, ingressMAC: authMAC)
        }
    }

    /// The intermediate values, kept apart so tests can check each against the legacy vector.
    struct KeyMaterial {
        let ephemeralSharedSecret: [UInt8]
        let sharedSecret: [UInt8]
        let aesSecret: [UInt8]
        let macSecret: [UInt8]

        init(ephemeralSharedSecret: [UInt8], initiatorNonce: [UInt8], recipientNonce: [UInt8]) {
            self.ephemeralSharedSecret = ephemeralSharedSecret
            sharedSecret = Keccak256.hash(ephemeralSharedSecret + Keccak256.hash(recipientNonce + initiatorNonce))
            aesSecret = Keccak256.hash(ephemeralSharedSecret + sharedSecret)
            macSecret = Keccak256.hash(ephemeralSharedSecret + aesSecret)
        }

        /// The legacy session token, keccak256(shared-secret); never used since resumption never was.
        var token: [UInt8] { Keccak256.hash(sharedSecret) }
    }
}

func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    precondition(a.count == b.count, "xor of unequal lengths")
    return zip(a, b).map { $0 ^ $1 }
}
