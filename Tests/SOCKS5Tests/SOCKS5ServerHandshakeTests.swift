import SOCKS5
import XCTest

typealias Step = SOCKS5ServerHandshake.Step

/// Feeds `chunks` one by one and returns the steps without `.needMore`, with every byte fed after
/// the terminal step appended to the request's leftover (the caller would forward them), so that
/// any split of the same bytes gives the same result.
func feedInChunks(_ chunks: [[UInt8]], allowUDPAssociate: Bool = false) -> [Step] {
    var server = SOCKS5ServerHandshake(allowUDPAssociate: allowUDPAssociate)
    var steps: [Step] = []
    var after: [UInt8] = []
    for chunk in chunks {
        if server.isFinished {
            XCTAssertEqual(server.feed(chunk), [], "a feed after the terminal step answers nothing")
            after += chunk
            continue
        }
        let out = server.feed(chunk)
        XCTAssertFalse(out.isEmpty)
        if out.contains(.needMore) { XCTAssertEqual(out, [.needMore]) }
        XCTAssertLessThanOrEqual(server.bufferedByteCount, SOCKS5ServerHandshake.maximumMessageBytes)
        steps += out.filter { $0 != .needMore }
    }
    if case .request(let request, let leftover)? = steps.last {
        steps[steps.count - 1] = .request(request, leftover: leftover + after)
    } else {
        XCTAssertTrue(after.isEmpty || steps.last.map { if case .refuse = $0 { true } else { false } } == true)
    }
    return steps
}

func oneShot(_ bytes: [UInt8], allowUDPAssociate: Bool = false) -> [Step] {
    var server = SOCKS5ServerHandshake(allowUDPAssociate: allowUDPAssociate)
    return server.feed(bytes)
}

let noAuth: [UInt8] = [0x05, 0x01, 0x00]
let selected: Step = .send([0x05, 0x00])
let failureReply: [UInt8] = [0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0]

final class SOCKS5ReplyTests: XCTestCase {
    /// RFC 1928 §6: `05 REP 00 ATYP BND.ADDR BND.PORT`, one golden reply per REP value.
    func testGoldenReplyForEveryCode() {
        let golden: [(SOCKS5ReplyCode, [UInt8])] = [
            (.succeeded, [0x05, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.generalFailure, [0x05, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.notAllowed, [0x05, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.networkUnreachable, [0x05, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.hostUnreachable, [0x05, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.connectionRefused, [0x05, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.ttlExpired, [0x05, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.commandNotSupported, [0x05, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            (.addressTypeNotSupported, [0x05, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        ]
        XCTAssertEqual(golden.count, 9)
        for (code, bytes) in golden {
            XCTAssertEqual(SOCKS5ServerHandshake.reply(code), bytes, "\(code)")
        }
    }

    func testReplyWithBoundAddresses() {
        XCTAssertEqual(SOCKS5ServerHandshake.reply(.succeeded, bound: .ipv4([192, 0, 2, 7]), port: 0x1f90),
                       [0x05, 0x00, 0x00, 0x01, 192, 0, 2, 7, 0x1f, 0x90])
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        XCTAssertEqual(SOCKS5ServerHandshake.reply(.succeeded, bound: .ipv6(v6), port: 443),
                       [0x05, 0x00, 0x00, 0x04] + v6 + [0x01, 0xbb])
        XCTAssertEqual(SOCKS5ServerHandshake.reply(.hostUnreachable, bound: .domain("a.io"), port: 65535),
                       [0x05, 0x04, 0x00, 0x03, 4, 0x61, 0x2e, 0x69, 0x6f, 0xff, 0xff])
    }
}

final class SOCKS5ServerHandshakeTests: XCTestCase {
    static let v6Bytes: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]
    /// Requests with each address type, and the payload the client sends right after them.
    static let cases: [(name: String, request: [UInt8], expected: SOCKS5Request)] = [
        ("IPv4", [0x05, 0x01, 0x00, 0x01, 10, 1, 2, 3, 0x00, 0x50],
         SOCKS5Request(command: .connect, address: .ipv4([10, 1, 2, 3]), port: 80)),
        ("IPv6", [0x05, 0x01, 0x00, 0x04] + v6Bytes + [0x01, 0xbb],
         SOCKS5Request(command: .connect, address: .ipv6(v6Bytes), port: 443)),
        ("domain", [0x05, 0x01, 0x00, 0x03, 11] + Array("example.com".utf8) + [0x1f, 0x90],
         SOCKS5Request(command: .connect, address: .domain("example.com"), port: 8080)),
    ]
    static let payload: [UInt8] = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)

    func testOneShotGreetingAndRequestGiveBothStepsInOrder() {
        for c in Self.cases {
            XCTAssertEqual(oneShot(noAuth + c.request), [selected, .request(c.expected, leftover: [])], c.name)
        }
    }

    func testEverySplitEqualsOneShot() {
        for c in Self.cases {
            let bytes = noAuth + c.request + Self.payload
            let whole = oneShot(bytes)
            XCTAssertEqual(whole, [selected, .request(c.expected, leftover: Self.payload)], c.name)
            // Byte by byte.
            XCTAssertEqual(feedInChunks(bytes.map { [$0] }), whole, "\(c.name) byte by byte")
            // Two parts, cut at every byte; three parts, cut at every pair of bytes.
            for i in 0...bytes.count {
                XCTAssertEqual(feedInChunks([Array(bytes[..<i]), Array(bytes[i...])]), whole, "\(c.name) cut at \(i)")
                for j in i...bytes.count {
                    let parts = [Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])]
                    XCTAssertEqual(feedInChunks(parts), whole, "\(c.name) cut at \(i), \(j)")
                }
            }
        }
    }

    func testByteByByteStepsComeWhenTheirLastByteArrives() {
        let bytes = noAuth + Self.cases[0].request
        var server = SOCKS5ServerHandshake()
        for (i, byte) in bytes.enumerated() {
            let out = server.feed([byte])
            switch i {
            case 2: XCTAssertEqual(out, [selected])
            case bytes.count - 1: XCTAssertEqual(out, [.request(Self.cases[0].expected, leftover: [])])
            default: XCTAssertEqual(out, [.needMore], "byte \(i)")
            }
        }
        XCTAssertTrue(server.isFinished)
        XCTAssertEqual(server.bufferedByteCount, 0)
    }

    func testLeftoverIsEverythingAfterTheRequestAndLaterFeedsAnswerNothing() {
        var server = SOCKS5ServerHandshake()
        XCTAssertEqual(server.feed(noAuth), [selected])
        let request = Self.cases[2].request
        XCTAssertEqual(server.feed(request + [0x00, 0xff, 0x05]), [.request(Self.cases[2].expected, leftover: [0x00, 0xff, 0x05])])
        XCTAssertEqual(server.feed(Self.payload), [])
        XCTAssertEqual(server.feed([]), [])
        XCTAssertTrue(server.isFinished)
    }

    func testEmptyFeedNeedsMore() {
        var server = SOCKS5ServerHandshake()
        XCTAssertEqual(server.feed([]), [.needMore])
        XCTAssertEqual(server.feed(noAuth), [selected])
        XCTAssertEqual(server.feed([]), [.needMore])
    }

    /// What curl 7.88.1 (Debian 12's, built with GSS-API) sends, captured from `curl
    /// --socks5-hostname`: it offers 00 and 01 (GSS-API) without credentials, then a domain
    /// request; with an IPv6 literal URL it sends ATYP 04. A curl without GSS-API offers 00 alone.
    func testCurlSocks5HostnameBytes() {
        let greeting: [UInt8] = [0x05, 0x02, 0x00, 0x01]
        let request = hexBytes("050100030b6578616d706c652e636f6d1f90")
        let expected = SOCKS5Request(command: .connect, address: .domain("example.com"), port: 8080)
        for g in [greeting, noAuth] {
            var server = SOCKS5ServerHandshake()
            XCTAssertEqual(server.feed(g), [selected])
            XCTAssertEqual(server.feed(request), [.request(expected, leftover: [])])
        }
        var server = SOCKS5ServerHandshake()
        XCTAssertEqual(server.feed(greeting), [selected])
        XCTAssertEqual(server.feed(hexBytes("05010004000000000000000000000000000000010050")),
                       [.request(SOCKS5Request(command: .connect, address: .ipv6([UInt8](repeating: 0, count: 15) + [1]), port: 80), leftover: [])])
        // curl with --proxy-user offers 00, 01 and 02: 00 is still chosen.
        XCTAssertEqual(oneShot([0x05, 0x03, 0x00, 0x01, 0x02]), [selected])
    }

    func testLongestMessagesAndBoundedBuffer() {
        // 255 methods, 00 last.
        let greeting: [UInt8] = [0x05, 0xff] + (1...254).map { UInt8($0) } + [0x00]
        let name = String(repeating: "a", count: 255)
        let request: [UInt8] = [0x05, 0x01, 0x00, 0x03, 0xff] + Array(name.utf8) + [0x00, 0x16]
        XCTAssertEqual(request.count, SOCKS5ServerHandshake.maximumMessageBytes)
        var server = SOCKS5ServerHandshake()
        XCTAssertEqual(server.feed(Array(greeting.dropLast())), [.needMore])
        XCTAssertEqual(server.bufferedByteCount, 256)
        XCTAssertEqual(server.feed([0x00] + request.dropLast()), [selected])
        XCTAssertEqual(server.bufferedByteCount, 261)
        let big = [UInt8](repeating: 0x41, count: 100_000)
        XCTAssertEqual(server.feed([0x16] + big),
                       [.request(SOCKS5Request(command: .connect, address: .domain(name), port: 22), leftover: big)])
        XCTAssertEqual(server.bufferedByteCount, 0)
    }

    func testPortZeroReachesTheCaller() {
        XCTAssertEqual(oneShot(noAuth + [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 0]),
                       [selected, .request(SOCKS5Request(command: .connect, address: .ipv4([127, 0, 0, 1]), port: 0), leftover: [])])
    }

    func testUDPAssociateWhenAllowed() {
        let request: [UInt8] = [0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(oneShot(noAuth + request, allowUDPAssociate: true),
                       [selected, .request(SOCKS5Request(command: .udpAssociate, address: .ipv4([0, 0, 0, 0]), port: 0), leftover: [])])
        let refused = oneShot(noAuth + request)
        XCTAssertEqual(refused.first, selected)
        guard case .refuse(let bytes, let reason)? = refused.last else { return XCTFail("\(refused)") }
        XCTAssertEqual(bytes, [0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        XCTAssertTrue(reason.contains("UDP ASSOCIATE"), reason)
        // BIND stays refused either way.
        guard case .refuse(let bind, _)? = oneShot(noAuth + [0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0], allowUDPAssociate: true).last else {
            return XCTFail()
        }
        XCTAssertEqual(bind, [0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    let chars = Array(text.utf8)
    return stride(from: 0, to: chars.count, by: 2).map { UInt8(String(decoding: chars[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}
