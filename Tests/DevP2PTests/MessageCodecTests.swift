import Foundation
import XCTest
import Keccak
import RLP
import RLPxFrame
import DevP2P
import TestVectors

final class MessageCodecTests: XCTestCase {
    func testFrameDataIsRLPIdThenPayload() throws {
        let codec = MessageCodec()
        XCTAssertEqual(try codec.encode(id: 0, payload: [0xc0]), [0x80, 0xc0])
        XCTAssertEqual(try codec.encode(id: 0x10, payload: [1, 2]), [0x10, 1, 2])
        XCTAssertEqual(try codec.encode(id: 0x80, payload: []), [0x81, 0x80])
        XCTAssertEqual(try codec.encode(id: 0x1234, payload: [9]), [0x82, 0x12, 0x34, 9])
        for id: UInt64 in [0, 1, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x100, 1 << 40, .max] {
            let message = Message(id: id, payload: [0xc2, 0x01, 0x02])
            XCTAssertEqual(try codec.decode(codec.encode(message)), message)
        }
    }

    func testInvalidMessageIDs() {
        let codec = MessageCodec()
        let cases: [([UInt8], String)] = [
            ([], "empty frame"),
            ([0xc0], "a list"),
            ([0xc1, 0x01], "a list holding an id"),
            ([0x81, 0x05], "non-canonical single byte"),
            ([0x82, 0x00, 0x01], "leading zero"),
            ([0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9], "wider than 64 bits"),
            ([0x82, 0x01], "truncated"),
            ([0xb8, 0x01, 0x01], "long-form string"),
        ]
        for (frame, name) in cases {
            XCTAssertThrowsError(try codec.decode(frame), name) { error in
                XCTAssertEqual(error as? MessageCodecError, .invalidMessageID, name)
            }
        }
    }

    func testSnappyNegotiation() {
        XCTAssertTrue(MessageCodec.usesSnappy(localVersion: 5, remoteVersion: 5))
        XCTAssertTrue(MessageCodec.usesSnappy(localVersion: 5, remoteVersion: 6))
        XCTAssertFalse(MessageCodec.usesSnappy(localVersion: 5, remoteVersion: 4))
        XCTAssertFalse(MessageCodec.usesSnappy(localVersion: 4, remoteVersion: 5))
        let id = [UInt8](repeating: 1, count: 64)
        var codec = MessageCodec()
        codec.negotiate(localHello: Hello(clientID: "", capabilities: [], listenPort: 0, nodeID: id),
                        remoteHello: Hello(protocolVersion: 5, clientID: "", capabilities: [], listenPort: 0, nodeID: id))
        XCTAssertTrue(codec.snappyEnabled)
        codec.negotiate(localHello: Hello(clientID: "", capabilities: [], listenPort: 0, nodeID: id),
                        remoteHello: Hello(protocolVersion: 4, clientID: "", capabilities: [], listenPort: 0, nodeID: id))
        XCTAssertFalse(codec.snappyEnabled)
    }

    func testSnappyPathCompressesPayloadsButNeverHello() throws {
        let snappy = MessageCodec(snappyEnabled: true)
        let payload = RLP.encode(.list((0..<200).map { _ in .string("repeated text") }))
        let frame = try snappy.encode(id: 0x10, payload: payload)
        XCTAssertEqual(frame.first, 0x10)
        XCTAssertLessThan(frame.count, payload.count / 4, "compressible payload must shrink")
        XCTAssertEqual(try snappy.decode(frame), Message(id: 0x10, payload: payload))
        // The plain codec does not decompress, so it sees the compressed bytes.
        XCTAssertNotEqual(try MessageCodec().decode(frame).payload, payload)

        let hello = Hello(clientID: "s", capabilities: [], listenPort: 0, nodeID: [UInt8](repeating: 2, count: 64))
        let helloFrame = try snappy.encode(BaseProtocolMessage.hello(hello).message)
        XCTAssertEqual(helloFrame, [0x80] + hello.encode())
        XCTAssertEqual(try snappy.decode(helloFrame).payload, hello.encode())
    }

    func testDecompressedSizeOver16MiBIsRefusedBeforeDecompressing() throws {
        // Declares 2^24 bytes and carries none of them.
        let frame: [UInt8] = [0x10, 0x80, 0x80, 0x80, 0x08, 0x00]
        XCTAssertThrowsError(try MessageCodec(snappyEnabled: true).decode(frame)) { error in
            XCTAssertEqual(error as? MessageCodecError,
                           .snappy(.declaredLengthTooLarge(declared: 1 << 24, limit: (1 << 24) - 1)))
        }
        XCTAssertThrowsError(try MessageCodec(snappyEnabled: true).decode([0x10, 0x05, 0x00])) { error in
            XCTAssertEqual(error as? MessageCodecError, .snappy(.corrupt))
        }
    }

    func testPayloadOf16MiBIsRefused() {
        let big = [UInt8](repeating: 0, count: 1 << 24)
        for codec in [MessageCodec(), MessageCodec(snappyEnabled: true)] {
            XCTAssertThrowsError(try codec.encode(id: 0x10, payload: big)) { error in
                XCTAssertEqual(error as? MessageCodecError, .messageTooLarge(size: 1 << 24))
            }
        }
        // Without snappy, the id byte pushes a maxUint24 payload over the frame size.
        XCTAssertThrowsError(try MessageCodec().encode(id: 0x10, payload: Array(big.dropLast()))) { error in
            XCTAssertEqual(error as? MessageCodecError, .messageTooLarge(size: 1 << 24))
        }
    }

    /// vectors/README.md: no public vector has a snappy frame with fixed secrets, so combine
    /// them: after the legacy vector's Hello frames, send golang/snappy's golden blocks as
    /// message payloads on the same session and read them back with snappy on.
    func testSnappyBlocksOverTheLegacyFrameSession() throws {
        let frames = try XCTUnwrap(TestVectors.json("rlpx-frames.json") as? [String: Any])
        let legacy = try XCTUnwrap(((frames["vectors"] as? [String: Any])?["legacy_handshake_with_hello_frames"]) as? [String: Any])
        let values = try XCTUnwrap(legacy["values"] as? [String: String])
        func hex(_ key: String) -> [UInt8] { TestVectors.hex(values[key]!) }
        let mac = hex("mac_secret")
        var egress = Keccak256()
        egress.update(zip(mac, hex("receiver_nonce")).map { $0 ^ $1 })
        egress.update(hex("auth_ciphertext"))
        var ingress = Keccak256()
        ingress.update(zip(mac, hex("initiator_nonce")).map { $0 ^ $1 })
        ingress.update(hex("authresp_ciphertext"))
        var initiator = FrameCodec(secrets: SessionSecrets(aesSecret: hex("aes_secret"), macSecret: mac,
                                                           egressMAC: egress, ingressMAC: ingress),
                                   maximumIncomingFrameSize: BaseProtocol.maximumPreHelloFrameSize)
        var receiver = FrameCodec(secrets: SessionSecrets(aesSecret: hex("aes_secret"), macSecret: mac,
                                                          egressMAC: ingress, ingressMAC: egress),
                                  maximumIncomingFrameSize: BaseProtocol.maximumPreHelloFrameSize)

        // The initiator's Hello first: our encoder reproduces the published packet, and the
        // receiver reads it with the pre-Hello limit in force.
        let decoded = try XCTUnwrap(legacy["decoded_here"] as? [String: Any])
        let helloData = TestVectors.hex(try XCTUnwrap((decoded["initiator_hello"] as? [String: Any])?["frame_plaintext_unpadded"] as? String))
        let helloPacket = try initiator.encode(helloData)
        XCTAssertEqual(helloPacket, hex("initiator_hello_packet"))
        receiver.feed(helloPacket)
        let helloMessage = try MessageCodec().decode(try XCTUnwrap(try receiver.nextFrame()))
        guard case .hello(let remoteHello)? = try BaseProtocolMessage.decode(helloMessage) else {
            return XCTFail("first frame is not a Hello")
        }
        XCTAssertEqual(remoteHello.protocolVersion, 3)
        // The vector's peers are version 3; pretend both upgraded so snappy is on from here.
        let snappy = MessageCodec(snappyEnabled: true)
        receiver.decoder.maximumFrameSize = BaseProtocol.maximumFrameSize
        let blocks = try XCTUnwrap(TestVectors.json("snappy-block.json") as? [String: Any])
        for golden in try XCTUnwrap(blocks["encode_golden"] as? [[String: Any]]) {
            let compressed: [UInt8]
            let plain: [UInt8]
            if let c = golden["compressed"] as? String, let u = golden["uncompressed"] as? String {
                compressed = TestVectors.hex(c); plain = TestVectors.hex(u)
            } else {
                compressed = [UInt8](try TestVectors.data(golden["compressed_file"] as! String))
                plain = [UInt8](try TestVectors.data(golden["uncompressed_file"] as! String))
            }
            // Frame data = rlp(id) || the reference encoder's block.
            receiver.feed(try initiator.encode([0x10] + compressed))
            XCTAssertEqual(try snappy.decode(try XCTUnwrap(try receiver.nextFrame())), Message(id: 0x10, payload: plain))
            // And our own compression over the same session.
            receiver.feed(try initiator.encode(try snappy.encode(id: 0x11, payload: plain)))
            XCTAssertEqual(try snappy.decode(try XCTUnwrap(try receiver.nextFrame())), Message(id: 0x11, payload: plain))
        }
    }
}
