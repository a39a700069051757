import Mux
import TestVectors
import XCTest

/// The golden frames of ipc/MUX.md: the document and the code agree byte for byte, both ways.
final class MuxGoldenTests: XCTestCase {
    enum Golden {
        case frames([MuxFrame])
        case windowUpdates([MuxWindowUpdate])
    }

    static let examples: [String: Golden] = [
        "NewIPv4WithData": .frames([.new(1, target: MuxTarget(address: .ipv4([127, 0, 0, 1]), port: 8080), data: Array("GET /".utf8))]),
        "NewService": .frames([.new(3, target: .service("web"))]),
        "NewIPv6": .frames([.new(2, target: MuxTarget(address: .ipv6([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]), port: 443))]),
        "KeepWithData": .frames([.keep(1, data: Array("hello".utf8))]),
        "KeepFin": .frames([.keep(1, fin: true)]),
        "KeepDataFin": .frames([.keep(2, data: Array("bye".utf8), fin: true)]),
        "End": .frames([.end(1)]),
        "EndError": .frames([.end(3, error: .notAllowed)]),
        "EndFlowControl": .frames([.end(5, error: .flowControl)]),
        "KeepAlive": .frames([MuxFrame(sessionID: 0, status: .keepAlive)]),
        "WindowUpdate": .windowUpdates([MuxWindowUpdate(sessionID: 1, increment: 128 * 1024),
                                        MuxWindowUpdate(sessionID: 2, increment: 256 * 1024)]),
        "TwoFrames": .frames([.keep(1, data: Array("hi".utf8)), .end(5)]),
        "UdpNewWithDatagram": .frames([.new(1, target: udpDNS, data: Array("ping".utf8))]),
        "UdpKeepIPv4Address": .frames([.keep(1, data: Array("hi".utf8), address: MuxTarget(network: .udp, address: .ipv4([10, 0, 0, 2]), port: 5353))]),
        "UdpKeepDomainAddress": .frames([.keep(3, data: Array("abc".utf8), address: MuxTarget(network: .udp, address: .domain("dns.example"), port: 53))]),
    ]

    static let udpDNS = MuxTarget(network: .udp, address: .ipv4([127, 0, 0, 1]), port: 53)

    func testDocumentHasExactlyTheExamples() throws {
        XCTAssertEqual(Set(try TestVectors.goldenBlocks("ipc/MUX.md").keys), Set(Self.examples.keys))
    }

    func testEveryExampleEncodesToItsGolden() throws {
        let goldens = try TestVectors.goldenBlocks("ipc/MUX.md")
        for (name, example) in Self.examples {
            let encoded: [UInt8]
            switch example {
            case .frames(let frames): encoded = MuxFrameCodec.encode(frames)
            case .windowUpdates(let updates): encoded = MuxWindowUpdate.encode(updates)
            }
            XCTAssertEqual(TestVectors.hexString(encoded), goldens[name].map(TestVectors.hexString), name)
        }
    }

    func testEveryGoldenDecodesToItsExample() throws {
        for (name, bytes) in try TestVectors.goldenBlocks("ipc/MUX.md") {
            switch try XCTUnwrap(Self.examples[name], name) {
            case .frames(let frames): XCTAssertEqual(try MuxFrameCodec.decode(bytes), frames, name)
            case .windowUpdates(let updates): XCTAssertEqual(try MuxWindowUpdate.decode(bytes), updates, name)
            }
        }
    }

    /// A link sends what the document shows for an open with its first data.
    func testLinkOutputMatchesGolden() throws {
        let goldens = try TestVectors.goldenBlocks("ipc/MUX.md")
        var link = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let id = try XCTUnwrap(link.open(MuxTarget(address: .ipv4([127, 0, 0, 1]), port: 8080), now: .now))
        XCTAssertEqual(id, 1)
        link.send(id, Array("GET /".utf8))
        let message = try XCTUnwrap(link.nextMessage())
        XCTAssertEqual(message.id, MuxMessageID.frames)
        XCTAssertEqual(message.payload, goldens["NewIPv4WithData"])
    }

    /// A UDP session's first datagram rides with its New, as the document shows.
    func testUDPLinkOutputMatchesGolden() throws {
        let goldens = try TestVectors.goldenBlocks("ipc/MUX.md")
        var link = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let id = try XCTUnwrap(link.open(Self.udpDNS, now: .now))
        XCTAssertTrue(link.sendDatagram(id, Array("ping".utf8)))
        let message = try XCTUnwrap(link.nextMessage())
        XCTAssertEqual(message.id, MuxMessageID.frames)
        XCTAssertEqual(message.payload, goldens["UdpNewWithDatagram"])
    }

    /// The document's table of error codes and their SOCKS5 replies.
    func testErrorCodeTable() {
        let socks: [(UInt8, UInt8)] = [(0x01, 1), (0x02, 2), (0x03, 3), (0x04, 4), (0x05, 5), (0x06, 6), (0x07, 7), (0x08, 8),
                                       (0x80, 1), (0x81, 1), (0x82, 1), (0x83, 1), (0x84, 1), (0x85, 1), (0x42, 1)]
        for (code, reply) in socks {
            let c = MuxErrorCode(rawValue: code)
            XCTAssertEqual(c.rawValue, code)
            XCTAssertEqual(c.socksReply, reply, "code 0x\(String(code, radix: 16))")
        }
        XCTAssertEqual(MuxErrorCode.other(0x05), .connectionRefused)
        XCTAssertEqual(MuxErrorCode(rawValue: 0x83), .flowControl)
    }
}
