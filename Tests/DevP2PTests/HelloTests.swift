import Foundation
import XCTest
import RLP
import DevP2P
import TestVectors

final class HelloTests: XCTestCase {
    /// EIP-8's forward-compatible Hello: extra list elements must be ignored. Its version byte is
    /// not asserted (vectors/README.md "Known gaps": EIP-8 says 22, the bytes say 55).
    func testEIP8HelloVector() throws {
        let file = try XCTUnwrap(TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let vector = try XCTUnwrap(file["devp2p_hello_eip8"] as? [String: Any])
        let expected = try XCTUnwrap(vector["expected"] as? [String: Any])
        let payload = TestVectors.hex(try XCTUnwrap(vector["hex"] as? String))

        let hello = try Hello.decode(payload)
        XCTAssertEqual(hello.clientID, expected["client_id"] as? String)
        XCTAssertEqual(hello.listenPort, (expected["listen_port"] as? NSNumber)?.uint64Value)
        XCTAssertEqual(hello.nodeID, TestVectors.hex(try XCTUnwrap(expected["node_id"] as? String)))
        let caps = try XCTUnwrap(expected["capabilities"] as? [[Any]])
        XCTAssertEqual(hello.capabilities, caps.map {
            Capability(name: $0[0] as! String, version: ($0[1] as! NSNumber).uint64Value)
        })
        XCTAssertEqual(RLP.encode(.list(hello.capabilities.map { .list([.string($0.name), .uint($0.version)]) })),
                       TestVectors.hex(try XCTUnwrap(expected["capabilities_rlp"] as? String)))

        // On the wire it follows message id 0x80 (rlp(0)) inside the frame.
        let message = try MessageCodec().decode([0x80] + payload)
        XCTAssertEqual(message.id, BaseProtocol.MessageID.hello)
        XCTAssertEqual(try BaseProtocolMessage.decode(message), .hello(hello))
    }

    /// The Hellos inside the legacy handshake's first frames (vectors/rlpx-frames.json).
    func testLegacyFrameHellos() throws {
        let file = try XCTUnwrap(TestVectors.json("rlpx-frames.json") as? [String: Any])
        let vectors = try XCTUnwrap(file["vectors"] as? [String: Any])
        let legacy = try XCTUnwrap(vectors["legacy_handshake_with_hello_frames"] as? [String: Any])
        let decoded = try XCTUnwrap(legacy["decoded_here"] as? [String: Any])
        for side in ["initiator_hello", "receiver_hello"] {
            let entry = try XCTUnwrap(decoded[side] as? [String: Any])
            let fields = try XCTUnwrap(entry["hello"] as? [String: Any])
            let frameData = TestVectors.hex(try XCTUnwrap(entry["frame_plaintext_unpadded"] as? String))
            let message = try MessageCodec().decode(frameData)
            XCTAssertEqual(message.id, 0)
            let hello = try Hello.decode(message.payload)
            XCTAssertEqual(hello.protocolVersion, 3)
            XCTAssertEqual(hello.clientID, "")
            XCTAssertEqual(hello.listenPort, 0)
            XCTAssertEqual(hello.nodeID, TestVectors.hex(try XCTUnwrap(fields["node_id"] as? String)))
            let caps = try XCTUnwrap(fields["capabilities"] as? [[Any]])
            XCTAssertEqual(hello.capabilities, caps.map {
                Capability(name: $0[0] as! String, version: ($0[1] as! NSNumber).uint64Value)
            })
            // Our encoder reproduces the vector's bytes exactly.
            XCTAssertEqual(try MessageCodec().encode(BaseProtocolMessage.hello(hello).message), frameData, side)
        }
    }

    func testRoundTrip() throws {
        var rng = SplitMix64(seed: 21)
        for _ in 0..<50 {
            let hello = Hello(protocolVersion: rng.next() % 8,
                              clientID: "stockade/v\(rng.next() % 100)/linux",
                              capabilities: (0..<rng.below(6)).map { _ in
                                  Capability(name: ["eth", "snap", "les", "mux"][rng.below(4)], version: rng.next() % 100)
                              },
                              listenPort: rng.next() % 65536,
                              nodeID: rng.bytes(64).map { $0 | 1 })
            XCTAssertEqual(try Hello.decode(hello.encode()), hello)
        }
    }

    func testDefaultVersionIsBaseProtocolVersion() {
        let hello = Hello(clientID: "x", capabilities: [], listenPort: 0, nodeID: [UInt8](repeating: 1, count: 64))
        XCTAssertEqual(hello.protocolVersion, 5)
        XCTAssertEqual(BaseProtocol.version, 5)
        XCTAssertEqual(BaseProtocol.length, 16)
        XCTAssertEqual(BaseProtocol.maximumMessageSize, 2048)
    }

    func testBadIdentitiesMapToInvalidIdentity() throws {
        for id in [[UInt8](), [UInt8](repeating: 7, count: 63), [UInt8](repeating: 7, count: 65),
                   [UInt8](repeating: 0, count: 64), [UInt8](repeating: 1, count: 33)] {
            let payload = Hello(clientID: "x", capabilities: [], listenPort: 1, nodeID: id).encode()
            XCTAssertThrowsError(try Hello.decode(payload), "id of \(id.count) bytes") { error in
                XCTAssertEqual(error as? HelloError, .invalidIdentity)
                XCTAssertEqual((error as? HelloError)?.disconnectReason, .invalidIdentity)
            }
        }
        // One non-zero byte anywhere is enough.
        var id = [UInt8](repeating: 0, count: 64)
        id[63] = 1
        XCTAssertNoThrow(try Hello.decode(Hello(clientID: "", capabilities: [], listenPort: 0, nodeID: id).encode()))
    }

    func testSizeLimitIsCheckedFirst() throws {
        let id = [UInt8](repeating: 9, count: 64)
        // Pad the client ID so the payload is exactly 2048, then 2049 bytes.
        func hello(payloadSize: Int) -> [UInt8] {
            var name = ""
            var payload: [UInt8] = []
            repeat {
                payload = Hello(clientID: name, capabilities: [], listenPort: 0, nodeID: id).encode()
                name += "a"
            } while payload.count < payloadSize
            return payload
        }
        let atLimit = hello(payloadSize: 2048)
        XCTAssertEqual(atLimit.count, 2048)
        XCTAssertNoThrow(try Hello.decode(atLimit))
        let over = hello(payloadSize: 2049)
        XCTAssertEqual(over.count, 2049)
        XCTAssertThrowsError(try Hello.decode(over)) { error in
            XCTAssertEqual(error as? HelloError, .tooLarge(size: 2049, limit: 2048))
            XCTAssertEqual((error as? HelloError)?.disconnectReason, .protocolError)
        }
        // Oversize garbage is refused for its size, not parsed.
        XCTAssertThrowsError(try Hello.decode([UInt8](repeating: 0xff, count: 5000))) { error in
            XCTAssertEqual(error as? HelloError, .tooLarge(size: 5000, limit: 2048))
        }
    }

    func testMalformedHellos() throws {
        let id = RLPItem.bytes([UInt8](repeating: 3, count: 64))
        let good: [RLPItem] = [.uint(5), .string("c"), .list([.list([.string("eth"), .uint(68)])]), .uint(30303), id]
        XCTAssertNoThrow(try Hello.decode(RLP.encode(.list(good))))

        func refuses(_ payload: [UInt8], _ message: String, line: UInt = #line) {
            XCTAssertThrowsError(try Hello.decode(payload), message, line: line) { error in
                XCTAssertEqual((error as? HelloError)?.disconnectReason, .protocolError, message, line: line)
            }
        }
        refuses([], "empty")
        refuses([0xc5, 0x01], "truncated RLP")
        refuses(RLP.encode(.string("hello")), "not a list")
        refuses(RLP.encode(.list(Array(good.prefix(4)))), "four fields")
        var listVersion = good; listVersion[0] = .list([])
        refuses(RLP.encode(.list(listVersion)), "version is a list")
        var wideVersion = good; wideVersion[0] = .bytes([UInt8](repeating: 1, count: 9))
        refuses(RLP.encode(.list(wideVersion)), "version over 64 bits")
        var leadingZero = good; leadingZero[3] = .bytes([0, 1])
        refuses(RLP.encode(.list(leadingZero)), "non-canonical port")
        var capThree = good; capThree[2] = .list([.list([.string("eth"), .uint(68), .uint(1)])])
        refuses(RLP.encode(.list(capThree)), "capability with three elements")
        var capsString = good; capsString[2] = .string("eth")
        refuses(RLP.encode(.list(capsString)), "capabilities not a list")
        var idList = good; idList[4] = .list([])
        refuses(RLP.encode(.list(idList)), "node id is a list")
    }

    func testExtraElementsAndTrailingBytesAreIgnored() throws {
        let base = Hello(clientID: "a", capabilities: [Capability(name: "eth", version: 68)], listenPort: 1,
                         nodeID: [UInt8](repeating: 4, count: 64))
        guard case .list(var fields) = try RLP.decode(base.encode()) else { return XCTFail("not a list") }
        fields += [.list([.string("future")]), .uint(99)]
        XCTAssertEqual(try Hello.decode(RLP.encode(.list(fields)) + [0x01, 0x02]), base)
    }
}

/// A small deterministic generator so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
