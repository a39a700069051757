import Mux
import XCTest

/// UDP sessions between two linked `MuxLink`s (ipc/MUX.md, "UDP sessions"): whole datagrams with
/// their addresses, the size bound, the oldest-first queue, `close`, and streams beside a flood.
final class MuxDatagramTests: XCTestCase {
    let dns = MuxTarget(network: .udp, address: .ipv4([127, 0, 0, 1]), port: 53)

    /// The datagrams `side` received on `id`, with the address each frame named.
    func datagrams(_ p: LinkPair, by side: LinkPair.Side, on id: UInt16) -> [([UInt8], MuxTarget?)] {
        var out: [([UInt8], MuxTarget?)] = []
        for case .datagram(let s, let bytes, let address) in side == .a ? p.eventsA : p.eventsB where s == id { out.append((bytes, address)) }
        return out
    }

    /// A UDP session the dialer opened with `first` (if any) and the listener accepted.
    func openUDP(_ p: inout LinkPair, first: [UInt8]? = nil) throws -> UInt16 {
        let id = try XCTUnwrap(p.a.open(dns, now: p.now))
        if let first { XCTAssertTrue(p.a.sendDatagram(id, first)) }
        try p.pump()
        XCTAssertEqual(p.eventsB.first, .openRequested(id, dns))
        p.b.accept(id)
        try p.pump()
        XCTAssertTrue(p.eventsA.contains(.opened(id)))
        return id
    }

    func testDatagramsArriveWholeWithTheirAddresses() throws {
        var p = LinkPair()
        let id = try openUDP(&p, first: Array("first".utf8))
        let other = MuxTarget(network: .udp, address: .ipv4([10, 0, 0, 2]), port: 5353)
        let named = MuxTarget(network: .udp, address: .domain("dns.example"), port: 53)
        let v6 = MuxTarget(network: .udp, address: .ipv6([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]), port: 443)
        let sent: [([UInt8], MuxTarget?)] = [(bytes(1), nil), (bytes(1000, seed: 1), other), (bytes(MuxLimits.maxDatagram, seed: 2), named),
                                            (bytes(MuxLimits.maxDatagram - 1, seed: 3), v6), (bytes(3, seed: 4), nil)]
        for (d, address) in sent { XCTAssertTrue(p.a.sendDatagram(id, d, address: address)) }
        try p.pump()
        let got = datagrams(p, by: .b, on: id)
        XCTAssertEqual(got.count, sent.count + 1)
        XCTAssertEqual(got.first?.0, Array("first".utf8))
        XCTAssertNil(got.first?.1, "the New's datagram goes to the New's destination")
        for (g, s) in zip(got.dropFirst(), sent) {
            XCTAssertEqual(g.0, s.0, "each datagram whole, in order")
            XCTAssertEqual(g.1, s.1)
        }
        // One datagram per frame: every Keep the opener sent holds exactly one of them.
        let keeps = try frames(p.sentByA).filter { $0.status == .keep && !$0.data.isEmpty }
        XCTAssertEqual(keeps.map(\.data), sent.map(\.0))
        XCTAssertEqual(keeps.map(\.target), sent.map(\.1))

        // Replies from the exit name their source as the opener named it; none names the session's own.
        XCTAssertTrue(p.b.sendDatagram(id, Array("pong".utf8), address: other))
        XCTAssertTrue(p.b.sendDatagram(id, Array("own".utf8)))
        try p.pump()
        let replies = datagrams(p, by: .a, on: id)
        XCTAssertEqual(replies.map(\.0), [Array("pong".utf8), Array("own".utf8)])
        XCTAssertEqual(replies.map(\.1), [other, nil])
        XCTAssertEqual(p.a.stats.datagramsDropped + p.b.stats.datagramsDropped, 0)
        XCTAssertEqual(p.a.bufferedBytes, 0)
        XCTAssertEqual(p.b.bufferedBytes, 0)
    }

    func testOversizeDatagramIsDroppedAndCountedAtTheSender() throws {
        var p = LinkPair()
        let id = try openUDP(&p)
        XCTAssertFalse(p.a.sendDatagram(id, bytes(MuxLimits.maxDatagram + 1)))
        XCTAssertEqual(p.a.stats.datagramsDropped, 1)
        XCTAssertEqual(p.a.bufferedBytes, 0)
        XCTAssertNil(p.a.nextMessage(), "nothing of it is sent, not even a part")
        XCTAssertTrue(p.a.sendDatagram(id, bytes(MuxLimits.maxDatagram)))
        try p.pump()
        XCTAssertEqual(datagrams(p, by: .b, on: id).map(\.0.count), [MuxLimits.maxDatagram])
        XCTAssertEqual(p.a.stats.datagramsDropped, 1)
        // An address no frame can carry drops the datagram too.
        XCTAssertFalse(p.a.sendDatagram(id, [1], address: MuxTarget(network: .udp, address: .domain(""), port: 53)))
        XCTAssertEqual(p.a.stats.datagramsDropped, 2)
        // The exit's side is bounded the same way.
        XCTAssertFalse(p.b.sendDatagram(id, bytes(MuxLimits.maxDatagram + 1)))
        XCTAssertEqual(p.b.stats.datagramsDropped, 1)
    }

    /// Before the exit's acknowledgement the opener queues; past 64 KiB the oldest go.
    func testQueueOverflowBeforeTheAckDropsTheOldest() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(dns, now: p.now))
        try p.pump()   // the New, without data
        let size = 8 * 1024, count = 20
        for i in 0..<count { XCTAssertTrue(p.a.sendDatagram(id, bytes(size, seed: UInt8(i)))) }
        let kept = MuxLimits.datagramQueueBytes / size
        XCTAssertEqual(p.a.stats.datagramsDropped, UInt64(count - kept))
        XCTAssertEqual(p.a.bufferedBytes, MuxLimits.datagramQueueBytes, "the queue holds at most 64 KiB")
        XCTAssertNil(p.a.nextMessage(), "no data before the acknowledgement")
        p.b.accept(id)
        try p.pump()
        let got = datagrams(p, by: .b, on: id).map(\.0)
        XCTAssertEqual(got, (count - kept..<count).map { bytes(size, seed: UInt8($0)) }, "the newest arrive, in order")
        XCTAssertEqual(p.a.bufferedBytes, 0)
    }

    /// A receiver that does not consume stops the sender at the window; then the queue fills
    /// and the oldest queued are dropped; what the window lets through later is the newest.
    func testWindowStillAppliesAndTheQueueDropsOldestPastIt() throws {
        var p = LinkPair()
        let id = try openUDP(&p)
        p.consuming = []
        let size = 8 * 1024
        let inWindow = MuxLimits.initialWindow / size, queued = MuxLimits.datagramQueueBytes / size, extra = 5
        for i in 0..<(inWindow + queued) {
            XCTAssertTrue(p.a.sendDatagram(id, bytes(size, seed: UInt8(i))))
            try p.pump()
        }
        XCTAssertEqual(datagrams(p, by: .b, on: id).count, inWindow, "the window bounds what is in flight")
        XCTAssertEqual(p.a.stats.datagramsDropped, 0)
        XCTAssertEqual(p.a.bufferedBytes, MuxLimits.datagramQueueBytes)
        for i in 0..<extra { XCTAssertTrue(p.a.sendDatagram(id, bytes(size, seed: UInt8(inWindow + queued + i)))) }
        XCTAssertEqual(p.a.stats.datagramsDropped, UInt64(extra))
        XCTAssertLessThanOrEqual(p.a.bufferedBytes, MuxLimits.datagramQueueBytes)
        // The receiver hands them on: the window returns and the queue drains.
        p.b.consumed(id, inWindow * size, now: p.now, growthAllowance: 0)
        p.consuming = [.a, .b]
        try p.pump()
        let got = datagrams(p, by: .b, on: id).map(\.0)
        let expected = (0..<inWindow).map { bytes(size, seed: UInt8($0)) }
            + (inWindow + extra..<inWindow + queued + extra).map { bytes(size, seed: UInt8($0)) }
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(got == expected, "the oldest queued were the ones dropped")
        XCTAssertEqual(p.a.bufferedBytes, 0)
    }

    func testCloseEndsTheSessionOnBothSides() throws {
        for closer in [LinkPair.Side.a, .b] {
            var p = LinkPair()
            let id = try openUDP(&p)
            XCTAssertTrue(p.a.sendDatagram(id, bytes(100)))
            if closer == .a { p.a.close(id) } else { p.b.close(id) }
            try p.pump()
            let other = closer == .a ? p.eventsB : p.eventsA
            XCTAssertTrue(other.contains(.closed(id, nil)), "\(closer) closed: the other side is told, without error")
            let own = closer == .a ? p.eventsA : p.eventsB
            XCTAssertFalse(own.contains { if case .closed = $0 { return true } else { return false } }, "the closer is not told again")
            XCTAssertFalse(p.a.contains(id))
            XCTAssertFalse(p.b.contains(id))
            XCTAssertEqual(p.a.liveCount + p.b.liveCount, 0, "both Ends: the ID is free")
            XCTAssertFalse(p.a.sendDatagram(id, bytes(10)), "nothing is sent on a closed session")
            XCTAssertEqual(p.a.bufferedBytes + p.b.bufferedBytes, 0)
            let ends = try frames(closer == .a ? p.sentByA : p.sentByB).filter { $0.status == .end }
            XCTAssertEqual(ends, [.end(id)], "a plain End")
        }
    }

    /// A session closed before its New went out sends nothing at all.
    func testCloseBeforeTheNewSendsNothing() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(dns, now: p.now))
        p.a.sendDatagram(id, bytes(10))
        p.a.close(id)
        try p.pump()
        XCTAssertTrue(p.sentByA.isEmpty)
        XCTAssertFalse(p.a.contains(id))
        XCTAssertEqual(p.a.bufferedBytes, 0)
    }

    /// A Keep's address is read only when the byte after its option is UDP's network; other
    /// extra metadata is skipped as v2ray's reader skips it; a UDP address cut short is malformed.
    func testKeepAddressIsReadOnlyAfterTheUDPNetworkByte() throws {
        let udp: [UInt8] = [0x00, 0x0c, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x35, 0x01, 10, 0, 0, 2, 0x00, 0x01, 0x41]
        XCTAssertEqual(try MuxFrameCodec.decode(udp),
                       [.keep(1, data: [0x41], address: MuxTarget(network: .udp, address: .ipv4([10, 0, 0, 2]), port: 53))])
        var tcp = udp
        tcp[6] = 0x01
        XCTAssertEqual(try MuxFrameCodec.decode(tcp), [.keep(1, data: [0x41])], "not UDP: skipped")
        let short: [UInt8] = [0x00, 0x0a, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x35, 0x01, 10, 0, 0x00, 0x01, 0x41]
        XCTAssertThrowsError(try MuxFrameCodec.decode(short))
    }

    /// Fin means nothing for UDP: a Keep with Fin is not a half-close, and datagrams go on.
    func testFinIsIgnoredOnAUDPSession() throws {
        var p = LinkPair()
        let id = try openUDP(&p)
        let events = try p.b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(id, data: [7], fin: true)]), now: p.now)
        XCTAssertEqual(events, [.datagram(id, [7], nil)])
        p.b.consumed(id, 1, now: p.now, growthAllowance: 0)
        XCTAssertTrue(p.a.sendDatagram(id, [8]))
        try p.pump()
        XCTAssertEqual(datagrams(p, by: .b, on: id).map(\.0), [[8]])
        XCTAssertTrue(p.b.contains(id))
    }

    /// A UDP flood on the same link: a stream session still gets its chunk every message and
    /// every byte, in order.
    func testStreamSessionIsUnaffectedByAUDPFlood() throws {
        var p = LinkPair()
        let udp = try openUDP(&p)
        let stream = try p.openAccepted()
        let rounds = 40, perRound = 32 * 1024
        var expected: [UInt8] = []
        for round in 0..<rounds {
            for i in 0..<100 { p.a.sendDatagram(udp, bytes(1200, seed: UInt8(truncatingIfNeeded: round &+ i))) }
            let chunk = bytes(perRound, seed: UInt8(round))
            expected += chunk
            p.a.send(stream, chunk)
            let before = p.received(by: .b, on: stream).count
            try p.deliver(from: .a, limit: 1)
            XCTAssertGreaterThan(p.received(by: .b, on: stream).count, before, "round \(round): the stream moved in the first message")
            try p.pump()
            XCTAssertLessThanOrEqual(p.a.bufferedBytes, MuxLimits.datagramQueueBytes + perRound)
        }
        try p.pump()
        XCTAssertTrue(p.received(by: .b, on: stream) == expected, "every stream byte, in order")
        XCTAssertGreaterThan(p.a.stats.datagramsDropped, 0, "the flood overflowed its queue")
        XCTAssertFalse(p.eventsB.contains { if case .closed = $0 { return true } else { return false } })
        XCTAssertEqual(p.a.bufferedBytes, 0)
    }
}
