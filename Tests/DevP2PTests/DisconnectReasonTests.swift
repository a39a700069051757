import XCTest
import RLP
import DevP2P

final class DisconnectReasonTests: XCTestCase {
    /// Every code devp2p defines, with go-ethereum's description string.
    func testEveryDefinedReason() {
        let table: [(UInt8, DisconnectReason, String)] = [
            (0x00, .requested, "disconnect requested"),
            (0x01, .networkError, "network error"),
            (0x02, .protocolError, "breach of protocol"),
            (0x03, .uselessPeer, "useless peer"),
            (0x04, .tooManyPeers, "too many peers"),
            (0x05, .alreadyConnected, "already connected"),
            (0x06, .incompatibleVersion, "incompatible p2p protocol version"),
            (0x07, .invalidIdentity, "invalid node identity"),
            (0x08, .quitting, "client quitting"),
            (0x09, .unexpectedIdentity, "unexpected identity"),
            (0x0a, .connectedToSelf, "connected to self"),
            (0x0b, .readTimeout, "read timeout"),
            (0x10, .subprotocolError, "subprotocol error"),
        ]
        XCTAssertEqual(DisconnectReason.allDefined, table.map(\.1))
        for (code, reason, text) in table {
            XCTAssertEqual(reason.rawValue, code)
            XCTAssertEqual(reason.description, text)
            XCTAssertTrue(reason.isDefined)
            // Sent as [reason]; read back through both the list and the legacy bare form.
            let payload = reason.encodePayload()
            XCTAssertEqual(payload, RLP.encode(.list([.uint(UInt64(code))])))
            XCTAssertEqual(DisconnectReason.decode(payload: payload), reason)
            XCTAssertEqual(DisconnectReason.decode(payload: RLP.encode(.uint(UInt64(code)))), reason)
        }
        XCTAssertEqual(DisconnectReason.requested.encodePayload(), [0xc1, 0x80])
    }

    func testUnknownCodesAreKept() {
        for code: UInt8 in [0x0c, 0x0f, 0x11, 0x7f, 0x80, 0xfe] {
            let reason = DisconnectReason.decode(payload: RLP.encode(.list([.uint(UInt64(code))])))
            XCTAssertEqual(reason.rawValue, code)
            XCTAssertFalse(reason.isDefined)
            XCTAssertEqual(reason.description, "unknown disconnect reason \(code)")
        }
    }

    /// go-ethereum's decodeDisconnectMessage: anything it cannot read is DiscInvalid.
    func testUndecodablePayloadsAreInvalid() {
        let cases: [([UInt8], String)] = [
            ([], "empty"),
            ([0xc0], "empty list"),
            ([0xc1, 0xc0], "list holding a list"),
            ([0x00], "non-canonical zero"),
            ([0xc2, 0x81, 0x05], "non-canonical single byte"),
            ([0xc3, 0x82, 0x01, 0x00], "reason over 8 bits"),
            ([0xc2, 0x01], "truncated"),
            (RLP.encode(.list([.uint(4), .bytes([UInt8](repeating: 1, count: 120))])), "first value over 100 bytes"),
        ]
        for (payload, name) in cases {
            XCTAssertEqual(DisconnectReason.decode(payload: payload), .invalid, name)
        }
        XCTAssertEqual(DisconnectReason.invalid.description, "invalid disconnect reason")
    }

    func testLenientForms() {
        // Extra list elements and trailing bytes are ignored, as go-ethereum's stream decoder does.
        XCTAssertEqual(DisconnectReason.decode(payload: [0xc2, 0x04, 0x05]), .tooManyPeers)
        XCTAssertEqual(DisconnectReason.decode(payload: [0xc1, 0x04, 0xff, 0xff]), .tooManyPeers)
        // The bare byte 0x80 is rlp(0).
        XCTAssertEqual(DisconnectReason.decode(payload: [0x80]), .requested)
        XCTAssertEqual(DisconnectReason.decode(payload: [0x08]), .quitting)
        // A long payload whose first value is small still decodes (only the window is read).
        XCTAssertEqual(DisconnectReason.decode(payload: [0xc1, 0x03] + [UInt8](repeating: 0, count: 500)), .uselessPeer)
    }

    func testBaseProtocolMessages() throws {
        let codec = MessageCodec()
        for message in [BaseProtocolMessage.ping, .pong, .disconnect(.tooManyPeers)] {
            let frameData = try codec.encode(message.message)
            XCTAssertEqual(try BaseProtocolMessage.decode(codec.decode(frameData)), message)
        }
        XCTAssertEqual(try codec.encode(BaseProtocolMessage.ping.message), [0x02, 0xc0])
        XCTAssertEqual(try codec.encode(BaseProtocolMessage.pong.message), [0x03, 0xc0])
        XCTAssertEqual(try codec.encode(BaseProtocolMessage.disconnect(.requested).message), [0x01, 0xc1, 0x80])
        // Ping payloads are not inspected; reserved base ids and capability ids are not base messages.
        XCTAssertEqual(try BaseProtocolMessage.decode(Message(id: 2, payload: [0xff])), .ping)
        XCTAssertNil(try BaseProtocolMessage.decode(Message(id: 0x04, payload: [])))
        XCTAssertNil(try BaseProtocolMessage.decode(Message(id: 0x10, payload: [0xc0])))
        XCTAssertThrowsError(try BaseProtocolMessage.decode(Message(id: 0, payload: [0xc0])))
    }
}
