import SOCKS5
import XCTest

/// Every refusal: its exact bytes, its reason, the earliest byte at which it comes, and that it is
/// the same whatever the split.
final class SOCKS5RefusalTests: XCTestCase {
    /// Feeds `bytes` in one read and byte by byte, expects `prefix` steps then one refusal with
    /// `reply`, and returns the reason.
    @discardableResult
    func expectRefusal(_ bytes: [UInt8], prefix: [Step] = [], reply: [UInt8], reasonContains: String,
                       file: StaticString = #filePath, line: UInt = #line) -> String {
        let whole = oneShot(bytes)
        XCTAssertEqual(whole.dropLast(), prefix[...], file: file, line: line)
        guard case .refuse(let out, let reason)? = whole.last else {
            XCTFail("no refusal: \(whole)", file: file, line: line)
            return ""
        }
        XCTAssertEqual(out, reply, file: file, line: line)
        XCTAssertTrue(reason.contains(reasonContains), "reason: \(reason)", file: file, line: line)
        XCTAssertEqual(feedInChunks(bytes.map { [$0] }), whole, "byte by byte", file: file, line: line)
        return reason
    }

    func testNotSOCKS5GetsNoReply() {
        let reason = expectRefusal(Array("GET / HTTP/1.1\r\n".utf8), reply: [], reasonContains: "not SOCKS5 (first byte 0x47: HTTP?)")
        XCTAssertFalse(reason.isEmpty)
        expectRefusal([0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, 0], reply: [], reasonContains: "not SOCKS5 (first byte 0x04: SOCKS4?)")
        expectRefusal([0x16, 0x03, 0x01], reply: [], reasonContains: "not SOCKS5 (first byte 0x16: TLS?)")
        expectRefusal([0x00], reply: [], reasonContains: "not SOCKS5 (first byte 0x00)")
        // Judged on the first byte alone.
        var server = SOCKS5ServerHandshake()
        guard case .refuse([], _)? = server.feed([0x43]).first else { return XCTFail() }
        XCTAssertTrue(server.isFinished)
        XCTAssertEqual(server.feed([0x05, 0x01, 0x00]), [])
    }

    func testNoMethodsOrNoAcceptableMethod() {
        expectRefusal([0x05, 0x00], reply: [0x05, 0xff], reasonContains: "offers no authentication method")
        expectRefusal([0x05, 0x00, 0x05, 0x01, 0x00], reply: [0x05, 0xff], reasonContains: "offers no authentication method")
        // Username/password (RFC 1929) only: refused.
        expectRefusal([0x05, 0x01, 0x02], reply: [0x05, 0xff], reasonContains: "0x02 (username/password, RFC 1929)")
        expectRefusal([0x05, 0x02, 0x01, 0x02], reply: [0x05, 0xff], reasonContains: "0x01 (GSSAPI), 0x02")
        expectRefusal([0x05, 0x03, 0x80, 0xfe, 0xff], reply: [0x05, 0xff], reasonContains: "only 0x00 (no authentication) is accepted")
    }

    func testRequestVersionNotFive() {
        expectRefusal(noAuth + [0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80], prefix: [selected],
                      reply: failureReply, reasonContains: "version 0x04, not 0x05")
        // Judged on the request's first byte alone.
        var server = SOCKS5ServerHandshake()
        _ = server.feed(noAuth)
        guard case .refuse(failureReply, _)? = server.feed([0x01]).first else { return XCTFail() }
    }

    func testReservedByteNotZero() {
        expectRefusal(noAuth + [0x05, 0x01, 0x01, 0x01, 1, 2, 3, 4, 0, 80], prefix: [selected],
                      reply: failureReply, reasonContains: "reserved byte 0x01, not 0x00")
    }

    func testUnsupportedAndUnknownCommands() {
        let notSupported: [UInt8] = [0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
        expectRefusal(noAuth + [0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0, 80], prefix: [selected],
                      reply: notSupported, reasonContains: "BIND is not supported")
        expectRefusal(noAuth + [0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0], prefix: [selected],
                      reply: notSupported, reasonContains: "UDP ASSOCIATE is not supported")
        for cmd: UInt8 in [0x00, 0x04, 0xff] {
            expectRefusal(noAuth + [0x05, cmd, 0x00, 0x03, 1, 0x61, 0, 80], prefix: [selected],
                          reply: notSupported, reasonContains: "unknown command 0x")
        }
        // The whole request is read before an unsupported command is refused: the client is not
        // cut off mid-write.
        var server = SOCKS5ServerHandshake()
        _ = server.feed(noAuth)
        XCTAssertEqual(server.feed([0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0]), [.needMore])
        guard case .refuse(notSupported, _)? = server.feed([80]).first else { return XCTFail() }
    }

    func testUnknownAddressType() {
        let reply: [UInt8] = [0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
        for atyp: UInt8 in [0x00, 0x02, 0x05, 0xff] {
            expectRefusal(noAuth + [0x05, 0x01, 0x00, atyp], prefix: [selected],
                          reply: reply, reasonContains: "unknown address type 0x" + String(atyp, radix: 16).leftPadded)
        }
    }

    func testUnknownAddressTypeIsJudgedOnItsByte() {
        var server = SOCKS5ServerHandshake()
        _ = server.feed(noAuth)
        XCTAssertEqual(server.feed([0x05, 0x01, 0x00]), [.needMore])
        guard case .refuse([0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0], _)? = server.feed([0x07]).first else { return XCTFail() }
    }

    func testBadDomainNames() {
        func request(_ name: [UInt8]) -> [UInt8] { noAuth + [0x05, 0x01, 0x00, 0x03, UInt8(name.count)] + name + [0, 80] }
        expectRefusal(request([]), prefix: [selected], reply: failureReply, reasonContains: "empty domain name")
        expectRefusal(request(Array("a\0b".utf8)), prefix: [selected], reply: failureReply, reasonContains: "byte 0x00 at offset 1")
        expectRefusal(request(Array("ex ample.com".utf8)), prefix: [selected], reply: failureReply, reasonContains: "byte 0x20 at offset 2")
        expectRefusal(request(Array("host\n".utf8)), prefix: [selected], reply: failureReply, reasonContains: "byte 0x0a at offset 4")
        expectRefusal(request([0x7f]), prefix: [selected], reply: failureReply, reasonContains: "byte 0x7f at offset 0")
        expectRefusal(request(Array("bücher.de".utf8)), prefix: [selected], reply: failureReply, reasonContains: "byte 0xc3 at offset 1")
        // Every printable ASCII byte is accepted as is.
        let printable = (0x21...0x7e).map { UInt8($0) }
        XCTAssertEqual(oneShot(request(printable)).last,
                       .request(SOCKS5Request(command: .connect, address: .domain(String(decoding: printable, as: UTF8.self)), port: 80), leftover: []))
    }

    func testRefusalsCarryNoLeftoverAndLaterFeedsAnswerNothing() {
        var server = SOCKS5ServerHandshake()
        let out = server.feed(noAuth + [0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0, 80, 0xaa, 0xbb])
        XCTAssertEqual(out.count, 2)
        XCTAssertTrue(server.isFinished)
        XCTAssertEqual(server.bufferedByteCount, 0)
        XCTAssertEqual(server.feed(noAuth), [])
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}
