import XCTest
import Keccak
import RLP
import Secp256k1
import TestVectors
@testable import RLPxHandshake

/// rlpx-eip8-handshake.json: EIP-8's Auth1-3 and Ack1-3, and B's secrets for (Auth2, Ack2).
final class EIP8VectorTests: XCTestCase {
    private func readPacket(_ bytes: [UInt8], expecting: HandshakePacketReader.Expecting, key: PrivateKey) throws -> HandshakePacket {
        var reader = HandshakePacketReader(expecting: expecting)
        let (packet, consumed) = try finished(try reader.read(bytes, key: key))
        XCTAssertEqual(consumed, bytes.count)
        XCTAssertEqual(packet.bytes, bytes)
        return packet
    }

    func testAllThreeAuthMessagesDecode() throws {
        let v = try EIP8Vectors()
        let keyB = try v.privateKey("static_private_key_b")
        for name in ["auth1", "auth2", "auth3"] {
            let message = try v.message(name)
            let expected = try XCTUnwrap(message["expected"] as? [String: Any])
            let decodedFields = try XCTUnwrap(message["decoded_fields"] as? [String: Any])
            let packet = try readPacket(try v.packet(name), expecting: .auth, key: keyB)
            XCTAssertEqual(packet.format, (decodedFields["format"] as? String) == "legacy" ? .legacy : .eip8, name)
            XCTAssertEqual(packet.plaintext.count, decodedFields["plaintext_length"] as? Int, name)

            let (auth, hash) = try AuthMessage.decode(packet)
            XCTAssertEqual(auth.initiatorPublicKey.raw64, TestVectors.hex(expected["initiator_pubkey"] as! String), name)
            XCTAssertEqual(auth.initiatorNonce, TestVectors.hex(expected["initiator_nonce"] as! String), name)
            XCTAssertEqual(auth.signature, TestVectors.hex(expected["signature"] as! String), name)
            XCTAssertEqual(auth.version.map(Int.init), expected["version"] as? Int, name)
            let extras = (expected["extra_list_elements_rlp"] as? [String] ?? []).map(TestVectors.hex)
            XCTAssertEqual(auth.extraElements.map(RLP.encode), extras, name)
            if packet.format == .legacy {
                XCTAssertEqual(hash, TestVectors.hex(decodedFields["ephemeral_pubkey_hash"] as! String))
            }

            // The whole responder: recovers A's ephemeral key and identifies A.
            var responder = HandshakeResponder(staticKey: keyB, randomness: try v.randomnessB())
            let (outcome, _) = try finished(try responder.receiveAuth(try v.packet(name)))
            XCTAssertEqual(outcome.result.remoteEphemeralPublicKey.raw64,
                           TestVectors.hex(expected["recovered_ephemeral_pubkey"] as! String), name)
            XCTAssertEqual(outcome.result.remotePublicKey, try v.publicKey("static_public_key_a"), name)
            XCTAssertEqual(outcome.result.remoteVersion.map(Int.init), expected["version"] as? Int, name)
        }
    }

    func testAllThreeAckMessagesDecode() throws {
        let v = try EIP8Vectors()
        let keyA = try v.privateKey("static_private_key_a")
        for name in ["ack1", "ack2", "ack3"] {
            let message = try v.message(name)
            let expected = try XCTUnwrap(message["expected"] as? [String: Any])
            let packet = try readPacket(try v.packet(name), expecting: .ack, key: keyA)
            XCTAssertEqual(packet.format, name == "ack1" ? .legacy : .eip8, name)
            let ack = try AckMessage.decode(packet)
            XCTAssertEqual(ack.ephemeralPublicKey.raw64, TestVectors.hex(expected["recipient_ephemeral_pubkey"] as! String), name)
            XCTAssertEqual(ack.recipientNonce, TestVectors.hex(expected["recipient_nonce"] as! String), name)
            XCTAssertEqual(ack.version.map(Int.init), expected["version"] as? Int, name)
            let extras = (expected["extra_list_elements_rlp"] as? [String] ?? []).map(TestVectors.hex)
            XCTAssertEqual(ack.extraElements.map(RLP.encode), extras, name)
        }
    }

    func testMessagesDoNotOpenWithTheOtherKey() throws {
        let v = try EIP8Vectors()
        let keyA = try v.privateKey("static_private_key_a")
        for name in ["auth2", "auth3"] {
            var reader = HandshakePacketReader(expecting: .auth)
            XCTAssertThrowsError(try reader.read(try v.packet(name), key: keyA), name) { error in
                XCTAssertEqual(error as? HandshakeError, .ecies(.authenticationFailed), name)
            }
        }
        // Auth1 starts with 0x04: once it does not open as legacy it could still be an EIP-8 packet
        // of 0x048c bytes, so the reader asks for the rest instead of failing.
        var reader = HandshakePacketReader(expecting: .auth)
        XCTAssertEqual(wanted(try reader.read(try v.packet("auth1"), key: keyA)), 2 + 0x048c - 307)
    }

    func testRecipientSecretsForAuth2Ack2() throws {
        let v = try EIP8Vectors()
        let derived = try v.derived()
        let inter = try XCTUnwrap(derived["intermediate_values_computed_here"] as? [String: String])
        let wantAES = TestVectors.hex(derived["aes_secret"] as! String)
        let wantMAC = TestVectors.hex(derived["mac_secret"] as! String)
        let wantFoo = TestVectors.hex(derived["ingress_mac_after_foo"] as! String)

        // The published derivation, from the exact Auth2 and Ack2 bytes.
        let secrets = try HandshakeSecrets.derive(role: .recipient, ephemeralKey: try v.privateKey("ephemeral_private_key_b"),
                                                  remoteEphemeralKey: try v.publicKey("ephemeral_public_key_a"),
                                                  initiatorNonce: v.nonce("nonce_a_initiator"), recipientNonce: v.nonce("nonce_b_recipient"),
                                                  authPacket: try v.packet("auth2"), ackPacket: try v.packet("ack2"))
        XCTAssertEqual(secrets.aesSecret, wantAES)
        XCTAssertEqual(secrets.macSecret, wantMAC)
        XCTAssertEqual(secrets.ingressMAC.digest(), TestVectors.hex(inter["ingress_mac_initial_digest"]!))
        XCTAssertEqual(secrets.egressMAC.digest(), TestVectors.hex(inter["egress_mac_initial_digest"]!))
        var ingress = secrets.ingressMAC
        ingress.update(Array("foo".utf8))
        XCTAssertEqual(ingress.digest(), wantFoo)

        let material = HandshakeSecrets.KeyMaterial(
            ephemeralSharedSecret: try ecdh(privateKey: try v.privateKey("ephemeral_private_key_b"), publicKey: try v.publicKey("ephemeral_public_key_a")),
            initiatorNonce: v.nonce("nonce_a_initiator"), recipientNonce: v.nonce("nonce_b_recipient"))
        XCTAssertEqual(material.ephemeralSharedSecret, TestVectors.hex(inter["ephemeral_key"]!))
        XCTAssertEqual(material.sharedSecret, TestVectors.hex(inter["shared_secret"]!))

        // B's responder state machine reading Auth2: its ack is its own (random ECIES), but the
        // AES/MAC secrets and the ingress MAC (seeded with Auth2) must be the published ones.
        var responder = HandshakeResponder(staticKey: try v.privateKey("static_private_key_b"), randomness: try v.randomnessB())
        let (outcome, consumed) = try finished(try responder.receiveAuth(try v.packet("auth2")))
        XCTAssertEqual(consumed, try v.packet("auth2").count)
        XCTAssertEqual(outcome.result.secrets.aesSecret, wantAES)
        XCTAssertEqual(outcome.result.secrets.macSecret, wantMAC)
        var responderIngress = outcome.result.secrets.ingressMAC
        responderIngress.update(Array("foo".utf8))
        XCTAssertEqual(responderIngress.digest(), wantFoo)
        XCTAssertEqual(outcome.result.remoteFormat, .eip8)
        XCTAssertEqual(outcome.ackPacket.count, 2 + (Int(outcome.ackPacket[0]) << 8 | Int(outcome.ackPacket[1])))
    }

    func testInitiatorAuthMatchesAuth2AndReadsAck2() throws {
        let v = try EIP8Vectors()
        let keyA = try v.privateKey("static_private_key_a")
        var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: try v.publicKey("static_public_key_b"),
                                               randomness: try v.randomnessA(padding: 153))
        // With Auth2's padding length our auth has exactly Auth2's size and prefix.
        XCTAssertEqual(initiator.authPacket.count, try v.packet("auth2").count)
        XCTAssertEqual(Array(initiator.authPacket.prefix(2)), Array(try v.packet("auth2").prefix(2)))
        var reader = HandshakePacketReader(expecting: .auth)
        let (packet, _) = try finished(try reader.read(initiator.authPacket, key: try v.privateKey("static_private_key_b")))
        let (auth, _) = try AuthMessage.decode(packet)
        // The vector's signer did not use RFC 6979, so the signature bytes differ; what must
        // agree is what the signature proves: it recovers to A's ephemeral key over
        // static-shared-secret ^ nonce, exactly as the published one does.
        let signed = xor(try ecdh(privateKey: keyA, publicKey: try v.publicKey("static_public_key_b")), v.nonce("nonce_a_initiator"))
        let wantSignature = TestVectors.hex(try XCTUnwrap((v.root["auth_signature"] as? [String: String])?["value"]))
        XCTAssertEqual(try recover(signature: auth.signature, hash: signed), try v.publicKey("ephemeral_public_key_a"))
        XCTAssertEqual(try recover(signature: wantSignature, hash: signed), try v.publicKey("ephemeral_public_key_a"))
        XCTAssertEqual(auth.initiatorPublicKey, keyA.publicKey)
        XCTAssertEqual(auth.initiatorNonce, v.nonce("nonce_a_initiator"))
        XCTAssertEqual(auth.version, 4)
        XCTAssertEqual(auth.extraElements, [])

        // A's ingress MAC is seeded exactly as B's egress MAC for Ack2.
        let inter = try XCTUnwrap(try v.derived()["intermediate_values_computed_here"] as? [String: String])
        let (result, consumed) = try finished(try initiator.receiveAck(try v.packet("ack2")))
        XCTAssertEqual(consumed, try v.packet("ack2").count)
        XCTAssertEqual(result.secrets.aesSecret, TestVectors.hex(try v.derived()["aes_secret"] as! String))
        XCTAssertEqual(result.secrets.ingressMAC.digest(), TestVectors.hex(inter["egress_mac_initial_digest"]!))
        XCTAssertEqual(result.remotePublicKey, try v.publicKey("static_public_key_b"))
        XCTAssertEqual(result.remoteVersion, 4)
    }

    func testInitiatorAcceptsLegacyAndFutureAcks() throws {
        let v = try EIP8Vectors()
        for (name, version, format) in [("ack1", nil, HandshakeFormat.legacy), ("ack3", 57, .eip8)] as [(String, UInt64?, HandshakeFormat)] {
            var initiator = try HandshakeInitiator(staticKey: try v.privateKey("static_private_key_a"),
                                                   remotePublicKey: try v.publicKey("static_public_key_b"), randomness: try v.randomnessA())
            let (result, _) = try finished(try initiator.receiveAck(try v.packet(name)))
            XCTAssertEqual(result.remoteFormat, format, name)
            XCTAssertEqual(result.remoteVersion, version, name)
            XCTAssertEqual(result.secrets.aesSecret, TestVectors.hex(try v.derived()["aes_secret"] as! String), name)
        }
    }

    func testLegacyAuthAnsweredWithLegacyAck() throws {
        let v = try EIP8Vectors()
        var responder = HandshakeResponder(staticKey: try v.privateKey("static_private_key_b"), randomness: try v.randomnessB())
        let (outcome, consumed) = try finished(try responder.receiveAuth(try v.packet("auth1")))
        XCTAssertEqual(consumed, 307)
        XCTAssertEqual(outcome.result.remoteFormat, .legacy)
        XCTAssertNil(outcome.result.remoteVersion)
        XCTAssertEqual(outcome.ackPacket.count, 210)
        XCTAssertEqual(outcome.ackPacket[0], 0x04)
        let plain = try ECIES.decrypt(outcome.ackPacket, with: try v.privateKey("static_private_key_a"))
        XCTAssertEqual(try AckMessage.decodeLegacy(plain).recipientNonce, v.nonce("nonce_b_recipient"))
        XCTAssertEqual(outcome.result.secrets.aesSecret, TestVectors.hex(try v.derived()["aes_secret"] as! String))
    }
}
