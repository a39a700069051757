import Mux
import XCTest

/// Windows, auto-tuning, limits and the sender's fairness (ipc/MUX.md, "Flow control", "Bounds").
final class MuxFlowControlTests: XCTestCase {
    /// A pair with `count` sessions opened by the dialer and accepted.
    func openedPair(_ count: Int, limits: MuxLimits = MuxLimits(maxSessions: 64, maxPendingOpens: 16, maxWindow: 4 << 20)) throws
        -> (LinkPair, [UInt16]) {
        var p = LinkPair(limits: limits)
        var ids: [UInt16] = []
        for _ in 0..<count { ids.append(try XCTUnwrap(p.a.open(tcp80, now: p.now))) }
        try p.pump()
        p.acceptAll()
        try p.pump()
        return (p, ids)
    }

    func testSenderNeverExceedsTheInitialWindowUnacknowledged() throws {
        var (p, ids) = try openedPair(1)
        p.consuming = []
        p.a.send(ids[0], bytes(1 << 20))
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: ids[0]).count, MuxLimits.initialWindow)
        XCTAssertFalse(p.a.hasSendWindow(ids[0]))
        XCTAssertEqual(p.a.queuedBytes(ids[0]), (1 << 20) - MuxLimits.initialWindow)
        XCTAssertEqual(p.a.stats.windowStalls, 1)
        // Consuming returns the window; the stalled sender is told and goes on.
        p.b.consumed(ids[0], MuxLimits.initialWindow, now: p.now, growthAllowance: 0)
        try p.deliver(from: .b)
        XCTAssertTrue(p.eventsA.contains(.sendable(ids[0])))
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: ids[0]).count, 2 * MuxLimits.initialWindow)
    }

    func testWindowUpdateOnceHalfTheWindowIsConsumed() throws {
        var (p, ids) = try openedPair(1)
        p.consuming = []
        let id = ids[0]
        p.a.send(id, bytes(200_000))
        try p.pump()
        p.b.consumed(id, MuxLimits.initialWindow / 2 - 1, now: p.now, growthAllowance: 0)
        XCTAssertNil(p.b.nextMessage(), "no update before half the window")
        p.b.consumed(id, 1, now: p.now, growthAllowance: 0)
        let update = try XCTUnwrap(p.b.nextMessage())
        XCTAssertEqual(update.id, MuxMessageID.windowUpdate)
        XCTAssertEqual(try MuxWindowUpdate.decode(update.payload), [MuxWindowUpdate(sessionID: id, increment: UInt32(MuxLimits.initialWindow / 2))])
    }

    /// One session's reader stops; another session on the same link keeps flowing.
    func testStalledSessionDoesNotBlockAnother() throws {
        var (p, ids) = try openedPair(2)
        let (stalled, live) = (ids[0], ids[1])
        p.consuming = []
        p.a.send(stalled, bytes(4 << 20))
        var delivered = 0
        for round in 0..<64 {
            p.a.send(live, bytes(64 * 1024, seed: UInt8(round)))
            try p.pump()
            let got = p.received(by: .b, on: live).count
            p.b.consumed(live, got - delivered, now: p.now, growthAllowance: 0)
            delivered = got
        }
        try p.pump()
        XCTAssertEqual(delivered, 64 * 64 * 1024, "the live session moved 4 MiB past a stalled neighbour")
        XCTAssertEqual(p.received(by: .b, on: stalled).count, MuxLimits.initialWindow)
        XCTAssertEqual(p.b.bufferedBytes, MuxLimits.initialWindow, "only the stalled window is held")
    }

    /// The window doubles when half of it was consumed within two round trips, not otherwise.
    func testAutoTuneGrowsWithinTwoRoundTripsOnly() throws {
        for (rtt, grows) in [(Duration.milliseconds(100), true), (Duration.milliseconds(1), false)] {
            var (p, ids) = try openedPair(1)
            p.consuming = []
            p.b.rtt = rtt
            let id = ids[0]
            p.a.send(id, bytes(MuxLimits.initialWindow))
            try p.pump()
            p.now += .milliseconds(10)                // the half window took 10 ms to consume
            p.b.consumed(id, MuxLimits.initialWindow / 2, now: p.now, growthAllowance: .max)
            let update = try MuxWindowUpdate.decode(try XCTUnwrap(p.b.nextMessage()).payload)
            let window = try XCTUnwrap(p.b.snapshot(now: p.now).first).receiveWindow
            if grows {
                XCTAssertEqual(window, 2 * MuxLimits.initialWindow)
                XCTAssertEqual(update.first?.increment, UInt32(MuxLimits.initialWindow / 2 + MuxLimits.initialWindow))
                XCTAssertEqual(p.b.windowGrowth, MuxLimits.initialWindow)
            } else {
                XCTAssertEqual(window, MuxLimits.initialWindow)
                XCTAssertEqual(update.first?.increment, UInt32(MuxLimits.initialWindow / 2))
                XCTAssertEqual(p.b.windowGrowth, 0)
            }
        }
    }

    func testGrowthCappedByMaxWindowAndByAllowance() throws {
        // maxWindow 512 KiB: one doubling, then no more however fast the reader.
        var (p, ids) = try openedPair(1, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 512 * 1024))
        p.a.send(ids[0], bytes(8 << 20))
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: ids[0]).count, 8 << 20)
        XCTAssertEqual(p.b.snapshot(now: p.now).first?.receiveWindow, 512 * 1024)
        XCTAssertEqual(p.b.stats.windowGrowths, 1)

        // An allowance of 100 000 bytes: the window grows by that much only.
        var (q, qids) = try openedPair(1)
        q.consuming = []
        q.a.send(qids[0], bytes(MuxLimits.initialWindow))
        try q.pump()
        q.b.consumed(qids[0], MuxLimits.initialWindow / 2, now: q.now, growthAllowance: 100_000)
        XCTAssertEqual(q.b.snapshot(now: q.now).first?.receiveWindow, MuxLimits.initialWindow + 100_000)
        q.b.consumed(qids[0], MuxLimits.initialWindow / 2, now: q.now, growthAllowance: 0)
        XCTAssertEqual(q.b.snapshot(now: q.now).first?.receiveWindow, MuxLimits.initialWindow + 100_000)
        XCTAssertEqual(q.b.windowGrowth, 100_000)
    }

    func testMaxWindowIsCappedBelowTheProtocolLimit() {
        XCTAssertEqual(MuxLimits(maxSessions: 1, maxPendingOpens: 1, maxWindow: .max).maxWindow, 0x7fff_ffff)
    }

    func testAutoTunedTransferArrivesWhole() throws {
        var (p, ids) = try openedPair(3)
        p.b.rtt = .milliseconds(50)
        let payloads = ids.enumerated().map { bytes(3 << 20, seed: UInt8($0.offset)) }
        for (id, data) in zip(ids, payloads) { p.a.send(id, data); p.a.finish(id) }
        try p.pump()
        for (id, data) in zip(ids, payloads) {
            XCTAssertEqual(p.received(by: .b, on: id), data)
            XCTAssertTrue(p.eventsB.contains(.remoteFinished(id)))
        }
        XCTAssertGreaterThan(p.b.stats.windowGrowths, 0)
    }

    /// Data past the window aborts that session with flowControl; the others are unaffected.
    func testDataPastTheWindowAbortsOnlyThatSession() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let now = ContinuousClock.now
        _ = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.new(1, target: tcp80), .new(3, target: tcp80)]), now: now)
        b.accept(1)
        b.accept(3)
        _ = b.nextMessage()
        var events: [MuxEvent] = []
        for _ in 0..<4 {
            events += try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(1, data: bytes(65_536 - 1))]), now: now)
        }
        XCTAssertFalse(events.contains { if case .closed = $0 { return true } else { return false } })
        events = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(1, data: bytes(5)), .keep(3, data: [7])]), now: now)
        XCTAssertEqual(events, [.closed(1, .flowControl), .data(3, [7])])
        XCTAssertEqual(try MuxFrameCodec.decode(try XCTUnwrap(b.nextMessage()).payload), [.end(1, error: .flowControl)])
        XCTAssertEqual(b.stats.flowViolations, 1)
        XCTAssertTrue(b.contains(3))
        // In-flight data of the aborted session is dropped quietly until the peer's End.
        XCTAssertEqual(try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(1, data: [1])]), now: now), [])
        _ = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.end(1)]), now: now)
        XCTAssertFalse(b.contains(1))
    }

    func testDataAfterFinAbortsWithFlowControl() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let now = ContinuousClock.now
        var new = MuxFrame.new(1, target: tcp80, data: [1])
        new.options.insert(.fin)
        let events = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([new, .keep(1, data: [2])]), now: now)
        XCTAssertEqual(events, [.openRequested(1, tcp80), .data(1, [1]), .remoteFinished(1), .closed(1, .flowControl)])
    }

    func testWindowPastTheProtocolLimitIsAProtocolError() throws {
        var (p, ids) = try openedPair(1)
        let overflow = MuxWindowUpdate.encode([.init(sessionID: ids[0], increment: 0x7fff_ffff)])
        XCTAssertThrowsError(try p.a.receive(messageID: MuxMessageID.windowUpdate, payload: overflow, now: p.now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .windowOverflow(ids[0]))
        }
    }

    /// Regression: no window update once our End is out (it could reach a reused ID).
    func testNoWindowUpdateAfterOurEnd() throws {
        var (p, ids) = try openedPair(1)
        p.consuming = []
        p.a.send(ids[0], bytes(MuxLimits.initialWindow))
        try p.pump()
        p.b.abort(ids[0], .reset)
        XCTAssertEqual(try frames([try XCTUnwrap(p.b.nextMessage())]), [.end(ids[0], error: .reset)])
        p.b.consumed(ids[0], MuxLimits.initialWindow, now: p.now, growthAllowance: .max)
        XCTAssertNil(p.b.nextMessage())
    }

    func testSessionLimitRefusesTheExtraOpenAndTheLinkStillWorks() throws {
        let limits = MuxLimits(maxSessions: 4, maxPendingOpens: 16, maxWindow: 1 << 20)
        var p = LinkPair(limits: limits)
        // The dialer's own limit is higher: it opens 5.
        p.a = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 64, maxPendingOpens: 16, maxWindow: 1 << 20))
        var ids: [UInt16] = []
        for _ in 0..<5 { ids.append(try XCTUnwrap(p.a.open(tcp80, now: p.now))) }
        try p.pump()
        XCTAssertTrue(p.eventsB.contains(.refusedOpen(ids[4], .tooManySessions)))
        XCTAssertTrue(p.eventsA.contains(.closed(ids[4], .tooManySessions)))
        XCTAssertEqual(p.b.liveCount, 4)
        XCTAssertNil(p.b.open(tcp80, now: p.now), "the listener's own open fails at the limit")
        p.acceptAll()
        try p.pump()
        p.a.send(ids[0], Array("still up".utf8))
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: ids[0]), Array("still up".utf8))
        XCTAssertEqual(p.b.sessionCount, 4, "the refusal is gone after the peer's End")
    }

    func testBacklogOfUnansweredOpens() throws {
        var p = LinkPair(limits: MuxLimits(maxSessions: 64, maxPendingOpens: 3, maxWindow: 1 << 20))
        var ids: [UInt16] = []
        for _ in 0..<4 { ids.append(try XCTUnwrap(p.a.open(tcp80, now: p.now))) }
        try p.pump()
        XCTAssertTrue(p.eventsA.contains(.closed(ids[3], .backlogFull)))
        p.b.accept(ids[0])
        let next = try XCTUnwrap(p.a.open(tcp80, now: p.now))
        try p.pump()
        XCTAssertTrue(p.eventsB.contains(.openRequested(next, tcp80)), "an answered open frees a backlog slot")
    }

    /// Regression: a peer with larger limits opening far past ours, in one burst, gets a
    /// refusal for each open and keeps its link.
    func testOpenFloodIsRefusedNotDisconnected() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 4, maxPendingOpens: 2, maxWindow: 1 << 20))
        let burst = (0..<2_000).map { MuxFrame.new(UInt16($0 * 2 + 1), target: tcp80, data: [1]) }
        let events = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode(burst), now: .now)
        XCTAssertEqual(events.filter { if case .refusedOpen = $0 { return true } else { return false } }.count, 1_998)
        XCTAssertEqual(b.liveCount, 2)
        XCTAssertEqual(b.sessionCount, 2_000)
        var ends: [MuxFrame] = []
        while let m = b.nextMessage() { ends += try MuxFrameCodec.decode(m.payload) }
        XCTAssertEqual(ends.count, 1_998)
        XCTAssertEqual(ends.first, .end(5, error: .backlogFull))
        // Keeps in flight for refused opens are dropped quietly; a New on one before its End is an error.
        XCTAssertEqual(try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(5, data: [2])]), now: .now), [])
        XCTAssertNil(b.nextMessage())
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.new(5, target: tcp80)]), now: .now))
        _ = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode(burst.dropFirst(2).map { .end($0.sessionID) }), now: .now)
        XCTAssertEqual(b.sessionCount, 2)
        XCTAssertEqual(b.bufferedBytes, 2)
        _ = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.new(5, target: tcp80)]), now: .now)
        XCTAssertTrue(b.contains(5) == false, "past the backlog: refused again, not an error")
    }

    /// A bulk session with megabytes queued delays an interactive frame by at most one chunk
    /// per other ready session.
    func testRoundRobinFairness() throws {
        for bulkCount in 1...3 {
            var (p, ids) = try openedPair(bulkCount + 1)
            let interactive = ids.removeLast()
            for id in ids { p.a.send(id, bytes(4 << 20)) }
            _ = p.a.nextMessage()                      // the bulk sessions are under way
            p.a.send(interactive, Array("ls\n".utf8))
            var before = 0
            search: while let message = p.a.nextMessage() {
                XCTAssertLessThanOrEqual(message.payload.count, MuxLimits.messageSize)
                for frame in try MuxFrameCodec.decode(message.payload) {
                    if frame.sessionID == interactive { break search }
                    before += frame.data.count
                }
            }
            XCTAssertLessThanOrEqual(before, bulkCount * MuxLimits.chunk, "\(bulkCount) bulk sessions")
            XCTAssertGreaterThan(before, 0)
        }
    }

    func testMessagesStayWithinMaxBytes() throws {
        var (p, ids) = try openedPair(5)
        for id in ids { p.a.send(id, bytes(200_000)) }
        var total = 0
        while let m = p.a.nextMessage(maxBytes: 20_000) {
            XCTAssertLessThanOrEqual(m.payload.count, 20_000)
            total += try MuxFrameCodec.decode(m.payload).reduce(0) { $0 + $1.data.count }
        }
        XCTAssertEqual(total, 5 * 200_000)
        // A tiny limit is raised to 1 KiB rather than sending nothing forever.
        p.a.send(ids[0], bytes(5000))
        let small = try XCTUnwrap(p.a.nextMessage(maxBytes: 10))
        XCTAssertLessThanOrEqual(small.payload.count, 1024)
    }
}
