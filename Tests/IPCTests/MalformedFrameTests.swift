import IPC
import XCTest

/// Each way a record can be wrong gives its own typed error (pure decoding, no sockets).
final class MalformedFrameTests: XCTestCase {
    /// A hand-made record: header fields as given, then `body`.
    private func record(version: UInt8 = 1, type: UInt8, flags: UInt8 = 0, fdCount: UInt8 = 0,
                        length: UInt32? = nil, requestID: UInt32 = 0, body: [UInt8]) -> [UInt8] {
        let length = length ?? UInt32(body.count)
        return [version, type, flags, fdCount,
                UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff),
                UInt8(requestID >> 24), UInt8(requestID >> 16 & 0xff), UInt8(requestID >> 8 & 0xff), UInt8(requestID & 0xff)]
            + body
    }

    private func assertDecodeFails(_ bytes: [UInt8], fds: Int = 0, _ expected: IPCDecodingError,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try IPCFrame.decode(bytes, receivedDescriptors: fds), file: file, line: line) { error in
            XCTAssertEqual(error as? IPCDecodingError, expected, file: file, line: line)
        }
    }

    /// A valid ChildReady body: role 1, index 3, pid 4242.
    private let childReadyBody = hex("01 0003 00001092")

    func testTheBaseRecordIsValid() throws {
        let frame = try IPCFrame.decode(record(type: 0x01, body: childReadyBody), receivedDescriptors: 0)
        XCTAssertEqual(frame.message, .childReady(.init(role: .worker, index: 3, pid: 4242)))
    }

    // MARK: header

    func testTruncatedHeader() {
        assertDecodeFails([], .truncatedHeader(recordLength: 0))
        assertDecodeFails(Array(record(type: 0x01, body: childReadyBody).prefix(11)), .truncatedHeader(recordLength: 11))
    }

    func testBadVersion() {
        assertDecodeFails(record(version: 0, type: 0x01, body: childReadyBody), .unsupportedVersion(0))
        assertDecodeFails(record(version: 2, type: 0x01, body: childReadyBody), .unsupportedVersion(2))
    }

    func testUnknownType() {
        for type: UInt8 in [0x00, 0x0d, 0x12, 0x27, 0xff] {
            assertDecodeFails(record(type: type, body: childReadyBody), .unknownMessageType(type))
        }
    }

    func testReservedFlagBits() {
        assertDecodeFails(record(type: 0x01, flags: 0x02, body: childReadyBody), .reservedFlagBits(flags: 0x02))
        assertDecodeFails(record(type: 0x10, flags: 0x81, fdCount: 1, body: []), .reservedFlagBits(flags: 0x81))
    }

    func testFlagAndFDCountMustAgree() {
        assertDecodeFails(record(type: 0x01, flags: 0x01, fdCount: 0, body: childReadyBody),
                          .descriptorFlagMismatch(flags: 1, count: 0))
        assertDecodeFails(record(type: 0x03, flags: 0x00, fdCount: 1, body: hex("02 0000")),
                          .descriptorFlagMismatch(flags: 0, count: 1))
    }

    func testTooManyFDsDeclared() {
        assertDecodeFails(record(type: 0x03, flags: 0x01, fdCount: 5, body: hex("02 0000")), fds: 5,
                          .tooManyDescriptors(count: 5))
    }

    func testOversizeBody() {
        let declared = UInt32(IPCLimits.maxBodyLength + 1)
        assertDecodeFails(record(type: 0x04, length: declared, body: []), .bodyTooLarge(declared: declared))
        assertDecodeFails(record(type: 0x04, length: .max, body: []), .bodyTooLarge(declared: .max))
    }

    func testLengthMismatch() {
        assertDecodeFails(record(type: 0x01, length: 8, body: childReadyBody), .lengthMismatch(declared: 8, actual: 7))
        assertDecodeFails(record(type: 0x01, length: 6, body: childReadyBody), .lengthMismatch(declared: 6, actual: 7))
    }

    // MARK: fds and request ids

    func testFDCountMismatchAgainstReceivedFDs() {
        // The header says none, one arrived.
        assertDecodeFails(record(type: 0x01, body: childReadyBody), fds: 1,
                          .descriptorCountMismatch(declared: 0, received: 1))
        // The header says one, none arrived.
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 1, body: []), fds: 0,
                          .descriptorCountMismatch(declared: 1, received: 0))
    }

    func testFDsOnATypeThatCarriesNone() {
        assertDecodeFails(record(type: 0x01, flags: 1, fdCount: 1, body: childReadyBody), fds: 1,
                          .unexpectedDescriptors(type: .childReady, expected: 0, declared: 1))
    }

    func testNoFDOnATypeThatCarriesOne() {
        assertDecodeFails(record(type: 0x03, body: hex("02 0000")),
                          .unexpectedDescriptors(type: .attachChannel, expected: 1, declared: 0))
    }

    func testTwoFDsOnATypeThatCarriesOne() {
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 2, body: []), fds: 2,
                          .unexpectedDescriptors(type: .inboundConnection, expected: 1, declared: 2))
    }

    func testRequestIDRule() {
        assertDecodeFails(record(type: 0x01, requestID: 5, body: childReadyBody),
                          .requestIDMisuse(type: .childReady, requestID: 5))
        assertDecodeFails(record(type: 0x22, requestID: 0, body: hex("ff 00")),
                          .requestIDMisuse(type: .checkVerdict, requestID: 0))
    }

    // MARK: body

    func testTruncatedBody() {
        assertDecodeFails(record(type: 0x01, body: Array(childReadyBody.prefix(5))),
                          .truncatedBody(field: "ChildReady.pid"))
        assertDecodeFails(record(type: 0x05, body: []), .truncatedBody(field: "Shutdown.disconnectReason"))
        // A string whose length prefix promises more than the body holds.
        assertDecodeFails(record(type: 0x04, body: hex("0010 7b7d")), .truncatedBody(field: "Configure.json"))
        // A fixed node id cut short.
        assertDecodeFails(record(type: 0x25, body: hex("0000000000000001") + Examples.nodeID.prefix(63)),
                          .truncatedBody(field: "DialRequest.nodeID"))
    }

    func testTrailingBytes() {
        assertDecodeFails(record(type: 0x01, body: childReadyBody + [0]), .trailingBytes(count: 1))
        assertDecodeFails(record(type: 0x05, body: [8, 1, 2]), .trailingBytes(count: 2))
    }

    func testInvalidEnumAndBoolValues() {
        assertDecodeFails(record(type: 0x01, body: hex("03 0003 00001092")), .invalidValue(field: "ChildReady.role", value: 3))
        assertDecodeFails(record(type: 0x11, body: hex("0000000000000001 04")),
                          .invalidValue(field: "HandshakeSlotFreed.outcome", value: 4))
        assertDecodeFails(record(type: 0x22, requestID: 1, body: hex("ff 02")),
                          .invalidValue(field: "CheckVerdict.trusted", value: 2))
        assertDecodeFails(record(type: 0x26, body: hex("0000000000000001") + Examples.nodeID + hex("05 0000")),
                          .invalidValue(field: "DialFailed.kind", value: 5))
    }

    func testFieldPastItsBound() {
        // Checked against the bound before the bytes are even looked at (none follow here).
        assertDecodeFails(record(type: 0x04, body: hex("8001")),
                          .fieldTooLong(field: "Configure.json", length: 0x8001, bound: IPCLimits.maxConfigureLength))
        assertDecodeFails(record(type: 0x02, body: hex("0041")),
                          .tooManyEntries(field: "Heartbeat.counters", count: 65, bound: 64))
        assertDecodeFails(record(type: 0x02, body: hex("0001 0041")),
                          .fieldTooLong(field: "Heartbeat.counters.name", length: 65, bound: 64))
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 1, body: hex("0000000000000001 002e")), fds: 1,
                          .fieldTooLong(field: "InboundConnection.remoteAddress", length: 46, bound: 45))
    }

    func testInvalidUTF8() {
        assertDecodeFails(record(type: 0x04, body: hex("0002 c328")), .invalidUTF8(field: "Configure.json"))
        assertDecodeFails(record(type: 0x24, body: hex("0000000000000001 0000 0001 ff")),
                          .invalidUTF8(field: "HandshakeAborted.reason"))
    }

    func testInvalidAddress() {
        let notAnAddress = Array("localhost".utf8)
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 1,
                                 body: hex("0000000000000001 0009") + notAnAddress + hex("0001")), fds: 1,
                          .invalidAddress(field: "InboundConnection.remoteAddress"))
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 1, body: hex("0000000000000001 0000 0001")), fds: 1,
                          .invalidAddress(field: "InboundConnection.remoteAddress"))
        // A NUL inside: inet_pton alone would accept the prefix.
        assertDecodeFails(record(type: 0x10, flags: 1, fdCount: 1,
                                 body: hex("0000000000000001 0009") + Array("1.2.3.4".utf8) + [0, 0x41] + hex("0001")),
                          fds: 1, .invalidAddress(field: "InboundConnection.remoteAddress"))
    }

    func testOptionalNodeIDLength() {
        assertDecodeFails(record(type: 0x24, body: hex("0000000000000001 0003 010203 0000")),
                          .invalidLength(field: "HandshakeAborted.nodeID", length: 3))
        assertDecodeFails(record(type: 0x24, body: hex("0000000000000001 0041")),
                          .fieldTooLong(field: "HandshakeAborted.nodeID", length: 65, bound: 64))
    }

    /// Every prefix of every golden frame (with its header length fixed up) fails cleanly:
    /// the decoder never reads past the end.
    func testEveryTruncationOfEveryExampleIsRejected() throws {
        for (name, frame) in Examples.frames {
            let bytes = try frame.encoded()
            let fds = frame.message.type.descriptorCount
            for cut in IPCLimits.headerSize..<bytes.count {
                var truncated = Array(bytes.prefix(cut))
                let length = UInt32(cut - IPCLimits.headerSize)
                truncated[4...7] = [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
                XCTAssertThrowsError(try IPCFrame.decode(truncated, receivedDescriptors: fds), "\(name) cut at \(cut)") { error in
                    guard case .truncatedBody = error as? IPCDecodingError else {
                        return XCTFail("\(name) cut at \(cut): \(error)")
                    }
                }
            }
        }
    }

    func testErrorsDescribeThemselves() {
        XCTAssertEqual(IPCDecodingError.unknownMessageType(0x7f).description, "IPC frame has unknown message type 0x7f")
        XCTAssertEqual(IPCDecodingError.trailingBytes(count: 2).description, "IPC body has 2 bytes after its last field")
        XCTAssertTrue(IPCDecodingError.requestIDMisuse(type: .checkVerdict, requestID: 0).description.contains("non-zero"))
    }
}
