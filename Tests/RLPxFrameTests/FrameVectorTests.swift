import XCTest
import Keccak
@testable import RLPxFrame
import TestVectors

/// vectors/rlpx-frames.json: go-ethereum's golden frame and the legacy handshake's Hello frames.
final class FrameVectorTests: XCTestCase {
    private func vector(_ name: String) throws -> [String: Any] {
        let file = try XCTUnwrap(TestVectors.json("rlpx-frames.json") as? [String: Any])
        let vectors = try XCTUnwrap(file["vectors"] as? [String: Any])
        return try XCTUnwrap(vectors[name] as? [String: Any])
    }

    /// go-ethereum TestFrameReadWrite. Its MAC is a fake hash (always 0x01...), so this vector
    /// pins the header layout and the one AES-CTR stream running from header into body; the
    /// real MAC is pinned by the legacy vector below.
    func testGoEthereumGoldenFrameCipherAndLayout() throws {
        let v = try vector("frame_read_write_fake_mac")
        let secrets = try XCTUnwrap(v["secrets"] as? [String: Any])
        let aesSecret = TestVectors.hex(try XCTUnwrap(secrets["aes_secret"] as? String))
        XCTAssertEqual(aesSecret, Keccak256.hash([]), "the vector's key is keccak256 of nothing")
        let parts = try XCTUnwrap(v["expected_frame_parts"] as? [String: String])
        let derived = try XCTUnwrap(v["plaintext_derived_here"] as? [String: Any])
        let frameData = TestVectors.hex(try XCTUnwrap(v["frame_data_expected_after_read"] as? String))
        XCTAssertEqual(frameData, [8] + TestVectors.hex(try XCTUnwrap(v["msg_payload_rlp"] as? String)))

        // Encrypting: header, then the zero-padded body, on one continuous stream.
        let header = FrameLayout.plaintextHeader(frameSize: frameData.count)
        XCTAssertEqual(header, TestVectors.hex(try XCTUnwrap(derived["header"] as? String)))
        var egress = FrameCipherStream(key: AESKey(aesSecret))
        XCTAssertEqual(egress.apply(header), TestVectors.hex(parts["header_ciphertext"]!))
        let padded = frameData + [UInt8](repeating: 0, count: FrameLayout.paddedLength(frameData.count) - frameData.count)
        XCTAssertEqual(egress.apply(padded), TestVectors.hex(parts["frame_ciphertext"]!))

        // Decrypting the expected frame's parts gives the header size and frame data back.
        let expected = TestVectors.hex(try XCTUnwrap(v["expected_frame"] as? String))
        XCTAssertEqual(expected.count, FrameLayout.wireLength(frameDataSize: frameData.count))
        var ingress = FrameCipherStream(key: AESKey(aesSecret))
        let headerPlain = ingress.apply(Array(expected[0..<16]))
        let size = headerPlain.withUnsafeBytes { FrameLayout.frameSize(ofPlaintextHeader: $0) }
        XCTAssertEqual(size, 6)
        XCTAssertEqual(Array(headerPlain[3..<6]), FrameLayout.headerData)
        let body = ingress.apply(Array(expected[32..<48]))
        XCTAssertEqual(Array(body.prefix(size)), frameData)
        XCTAssertEqual(body, TestVectors.hex(try XCTUnwrap(derived["frame_padded"] as? String)))
    }

    /// The legacy handshake vector with real MACs: seed both MAC states from the handshake
    /// packets exactly as rlpx.md says, check them against the published initial MAC digests,
    /// then decode both Hello frames and re-encode them byte for byte.
    func testLegacyHandshakeHelloFramesBothDirections() throws {
        let v = try vector("legacy_handshake_with_hello_frames")
        let values = try XCTUnwrap(v["values"] as? [String: String])
        let decoded = try XCTUnwrap(v["decoded_here"] as? [String: Any])
        func hex(_ key: String) throws -> [UInt8] { TestVectors.hex(try XCTUnwrap(values[key], key)) }

        let aes = try hex("aes_secret")
        let mac = try hex("mac_secret")
        // Initiator: egress = keccak((mac ^ receiver-nonce) || auth), ingress = keccak((mac ^ initiator-nonce) || ack).
        var initiatorEgress = Keccak256()
        initiatorEgress.update(zip(mac, try hex("receiver_nonce")).map { $0 ^ $1 })
        initiatorEgress.update(try hex("auth_ciphertext"))
        var initiatorIngress = Keccak256()
        initiatorIngress.update(zip(mac, try hex("initiator_nonce")).map { $0 ^ $1 })
        initiatorIngress.update(try hex("authresp_ciphertext"))
        XCTAssertEqual(initiatorEgress.digest(), try hex("initial_egress_MAC"))
        XCTAssertEqual(initiatorIngress.digest(), try hex("initial_ingress_MAC"))

        var initiator = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac,
                                                           egressMAC: initiatorEgress, ingressMAC: initiatorIngress))
        var receiver = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac,
                                                          egressMAC: initiatorIngress, ingressMAC: initiatorEgress))

        let initiatorHello = try XCTUnwrap(decoded["initiator_hello"] as? [String: Any])
        let receiverHello = try XCTUnwrap(decoded["receiver_hello"] as? [String: Any])
        let initiatorData = TestVectors.hex(try XCTUnwrap(initiatorHello["frame_plaintext_unpadded"] as? String))
        let receiverData = TestVectors.hex(try XCTUnwrap(receiverHello["frame_plaintext_unpadded"] as? String))
        XCTAssertEqual(initiatorData.count, initiatorHello["frame_size"] as? Int)

        // Decode what each side received, fed one byte at a time.
        let initiatorPacket = try hex("initiator_hello_packet")
        let receiverPacket = try hex("receiver_hello_packet")
        for byte in initiatorPacket.dropLast() {
            receiver.feed([byte])
            XCTAssertNil(try receiver.nextFrame())
        }
        receiver.feed([initiatorPacket.last!])
        XCTAssertEqual(try receiver.nextFrame(), initiatorData)
        XCTAssertEqual(receiver.decoder.bufferedByteCount, 0)

        initiator.feed(receiverPacket)
        XCTAssertEqual(try initiator.nextFrame(), receiverData)
        XCTAssertNil(try initiator.nextFrame())

        // Encoding is deterministic (zero padding), so each side's sent frame is reproduced exactly.
        var initiatorAgain = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac,
                                                                egressMAC: initiatorEgress, ingressMAC: initiatorIngress))
        var receiverAgain = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac,
                                                               egressMAC: initiatorIngress, ingressMAC: initiatorEgress))
        XCTAssertEqual(try initiatorAgain.encode(initiatorData), initiatorPacket)
        XCTAssertEqual(try receiverAgain.encode(receiverData), receiverPacket)
    }

    /// The same legacy frame with its MAC state seeded wrongly (the other direction's) is refused.
    func testLegacyHelloFrameWithWrongMACStateIsRefused() throws {
        let v = try vector("legacy_handshake_with_hello_frames")
        let values = try XCTUnwrap(v["values"] as? [String: String])
        let mac = TestVectors.hex(values["mac_secret"]!)
        var ingress = Keccak256()
        ingress.update(zip(mac, TestVectors.hex(values["initiator_nonce"]!)).map { $0 ^ $1 })
        ingress.update(TestVectors.hex(values["authresp_ciphertext"]!))
        var receiver = FrameCodec(secrets: SessionSecrets(aesSecret: TestVectors.hex(values["aes_secret"]!), macSecret: mac,
                                                          egressMAC: ingress, ingressMAC: ingress))
        receiver.feed(TestVectors.hex(values["initiator_hello_packet"]!))
        XCTAssertThrowsError(try receiver.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .headerMACMismatch)
        }
    }
}
