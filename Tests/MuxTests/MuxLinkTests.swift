import Mux
import XCTest

/// Session life, IDs and the answers to stray frames (ipc/MUX.md, "Session IDs", "Session life").
final class MuxLinkTests: XCTestCase {
    func testOpenAckDataFinEndBothWaysThenForgotten() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(.service("web"), now: p.now))
        XCTAssertEqual(id, 1)
        p.a.send(id, Array("request".utf8))
        try p.pump()
        XCTAssertEqual(p.eventsB.first, .openRequested(1, .service("web")))
        XCTAssertEqual(p.received(by: .b, on: 1), Array("request".utf8))
        XCTAssertFalse(p.eventsA.contains(.opened(1)), "no ack before the exit accepts")

        p.b.accept(1)
        p.b.send(1, Array("response".utf8))
        try p.pump()
        XCTAssertEqual(p.eventsA.first, .opened(1))
        XCTAssertEqual(p.received(by: .a, on: 1), Array("response".utf8))

        // Half-close from the opener: the other direction goes on.
        p.a.finish(1)
        try p.pump()
        XCTAssertTrue(p.eventsB.contains(.remoteFinished(1)))
        p.b.send(1, Array("more".utf8))
        try p.pump()
        XCTAssertEqual(p.received(by: .a, on: 1), Array("responsemore".utf8))
        XCTAssertTrue(p.a.contains(1) && p.b.contains(1))

        p.b.finish(1)
        try p.pump()
        XCTAssertTrue(p.eventsA.contains(.remoteFinished(1)))
        XCTAssertTrue(p.eventsA.contains(.closed(1, nil)))
        XCTAssertTrue(p.eventsB.contains(.closed(1, nil)))
        XCTAssertFalse(p.a.contains(1), "forgotten after both Ends")
        XCTAssertFalse(p.b.contains(1))
        XCTAssertEqual(p.a.sessionCount, 0)
        XCTAssertEqual(p.b.sessionCount, 0)
        let sentFrames = try frames(p.sentByA) + frames(p.sentByB)
        XCTAssertEqual(sentFrames.filter { $0.status == .end }.count, 2, "one End each way")
    }

    /// Regression: data and Fin queued while the open waits for its ack go out after the ack.
    func testDataQueuedBeforeTheAckFlowsAfterIt() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(tcp80, now: p.now))
        try p.pump()                                  // New goes out alone
        p.a.send(id, Array("late".utf8))
        p.a.finish(id)
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: id), [], "nothing more before the ack")
        p.b.accept(id)
        try p.pump()
        XCTAssertEqual(p.received(by: .b, on: id), Array("late".utf8))
        XCTAssertTrue(p.eventsB.contains(.remoteFinished(id)))
    }

    /// Regression: a side that sent Fin first and then receives the peer's Fin sends its End.
    func testFinsThatFollowEachOtherEndTheSession() throws {
        var p = LinkPair()
        let id = try p.openAccepted()
        p.a.finish(id)
        try p.pump()
        p.b.finish(id)
        try p.pump()
        XCTAssertFalse(p.a.contains(id))
        XCTAssertFalse(p.b.contains(id))
    }

    func testListenerOpensEvenIDsAndBothSidesOpenAtOnce() throws {
        var p = LinkPair()
        let fromA = try XCTUnwrap(p.a.open(tcp80, now: p.now))
        let fromB = try XCTUnwrap(p.b.open(tcp80, now: p.now))
        XCTAssertEqual(fromA % 2, 1)
        XCTAssertEqual(fromB % 2, 0)
        XCTAssertNotEqual(fromB, 0)
        try p.pump()
        XCTAssertTrue(p.eventsA.contains(.openRequested(fromB, tcp80)))
        XCTAssertTrue(p.eventsB.contains(.openRequested(fromA, tcp80)))
    }

    func testIDReusedOnlyAfterBothEnds() throws {
        var p = LinkPair(limits: MuxLimits(maxSessions: 1, maxPendingOpens: 1, maxWindow: 1 << 20))
        // The dialer's IDs cycle through 1, 3, 5, …: with one session at a time, walk to the
        // wrap and check an ID is never handed out while the peer may still hold it.
        var seen: [UInt16] = []
        for round in 0..<40_000 {
            guard let id = p.a.open(tcp80, now: p.now) else { return XCTFail("no ID in round \(round)") }
            XCTAssertNil(p.a.open(tcp80, now: p.now), "one session at a time")
            try p.deliver(from: .a)
            p.b.abort(id, .reset)                     // the exit ends it; its End crosses nothing
            try p.deliver(from: .b)
            XCTAssertTrue(p.a.contains(id) == false || p.a.hasPendingOutput)
            try p.deliver(from: .a)                   // the opener's End: now both sent End
            XCTAssertFalse(p.a.contains(id))
            XCTAssertFalse(p.b.contains(id))
            seen.append(id)
            if seen.count > 32_770 { break }
        }
        XCTAssertEqual(seen[0], 1)
        XCTAssertEqual(seen[32_767], 65_535)
        XCTAssertEqual(seen[32_768], 1, "the cycle wraps to 1 once the ID is free")
    }

    func testIDStillHeldUntilThePeersEndIsNotReused() throws {
        var p = LinkPair()
        let first = try p.openAccepted()
        p.a.abort(first, .reset)
        try p.deliver(from: .a)                       // our End is out, the peer's is not in
        XCTAssertTrue(p.a.contains(first))
        var opened: [UInt16] = []
        for _ in 0..<10 { opened.append(try XCTUnwrap(p.a.open(tcp80, now: p.now))) }
        XCTAssertFalse(opened.contains(first))
        try p.pump()
        XCTAssertFalse(p.a.contains(first))
        XCTAssertTrue(p.eventsB.contains(.closed(first, .reset)))
    }

    func testParityViolationsAndNewOnLiveIDThrow() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let now = ContinuousClock.now
        func new(_ id: UInt16) -> [UInt8] { MuxFrameCodec.encode([.new(id, target: tcp80)]) }
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.frames, payload: new(2), now: now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .wrongParity(2))
        }
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.frames, payload: new(0), now: now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .wrongParity(0))
        }
        _ = try b.receive(messageID: MuxMessageID.frames, payload: new(1), now: now)
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.frames, payload: new(1), now: now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .sessionInUse(1))
        }
        var a = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        XCTAssertThrowsError(try a.receive(messageID: MuxMessageID.frames, payload: new(3), now: now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .wrongParity(3))
        }
    }

    func testMalformedAndUnknownMessagesThrow() {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        XCTAssertThrowsError(try b.receive(messageID: 0x02, payload: [], now: .now)) {
            XCTAssertEqual($0 as? MuxProtocolError, .unknownMessage(2))
        }
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.frames, payload: [0, 4, 0, 1, 9, 0], now: .now))
        XCTAssertThrowsError(try b.receive(messageID: MuxMessageID.windowUpdate, payload: [0, 1, 0, 0, 0], now: .now))
    }

    func testKeepForUnknownSessionAnsweredOncePerIDPerBatch() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let stray = MuxFrameCodec.encode([.keep(9, data: [1, 2, 3]), .keep(9, data: [4]), .keep(11)])
        XCTAssertEqual(try b.receive(messageID: MuxMessageID.frames, payload: stray, now: .now), [])
        _ = try b.receive(messageID: MuxMessageID.frames, payload: stray, now: .now)
        let answer = try XCTUnwrap(b.nextMessage())
        XCTAssertEqual(try MuxFrameCodec.decode(answer.payload), [.end(9, error: .unknownSession), .end(11, error: .unknownSession)])
        XCTAssertNil(b.nextMessage())
        XCTAssertEqual(b.bufferedBytes, 0, "the data was dropped")
        XCTAssertEqual(b.stats.unknownSessionFrames, 6)
        // A later batch is answered again.
        _ = try b.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.keep(9)]), now: .now)
        XCTAssertEqual(try MuxFrameCodec.decode(try XCTUnwrap(b.nextMessage()).payload), [.end(9, error: .unknownSession)])
    }

    func testEndForUnknownSessionIgnoredAndKeepAliveAccepted() throws {
        var b = MuxLink(role: .listener, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let payload = MuxFrameCodec.encode([.end(5), .end(7, error: .reset), MuxFrame(sessionID: 0, status: .keepAlive, data: [1])])
        XCTAssertEqual(try b.receive(messageID: MuxMessageID.frames, payload: payload, now: .now), [])
        XCTAssertNil(b.nextMessage())
        XCTAssertEqual(b.stats.keepAlives, 1)
        // A window update for an unknown session is ignored too.
        _ = try b.receive(messageID: MuxMessageID.windowUpdate, payload: MuxWindowUpdate.encode([.init(sessionID: 5, increment: 1)]), now: .now)
        XCTAssertFalse(b.hasPendingOutput)
    }

    func testAbortBeforeNewIsSentSendsNothing() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(tcp80, now: p.now))
        p.a.send(id, bytes(1000))
        p.a.abort(id, .reset)
        XCTAssertNil(p.a.nextMessage())
        XCTAssertFalse(p.a.contains(id))
        XCTAssertEqual(p.a.bufferedBytes, 0)
    }

    func testRefuseSendsEndWithErrorCode() throws {
        var p = LinkPair()
        let id = try XCTUnwrap(p.a.open(MuxTarget(address: .domain("example.com"), port: 443), now: p.now))
        p.a.send(id, bytes(100))
        try p.pump()
        p.b.refuse(id, .notAllowed)
        try p.pump()
        XCTAssertEqual(try frames(p.sentByB), [.end(id, error: .notAllowed)])
        XCTAssertEqual(p.eventsA, [.closed(id, .notAllowed)])
        XCTAssertFalse(p.a.contains(id))
        XCTAssertFalse(p.b.contains(id))
        XCTAssertEqual(p.b.bufferedBytes, 0, "the refused open's data is released with it")
    }

    func testEndWithoutErrorForAnUnansweredOpenIsAFailure() throws {
        var a = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        let id = try XCTUnwrap(a.open(tcp80, now: .now))
        _ = a.nextMessage()
        let events = try a.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([.end(id)]), now: .now)
        XCTAssertEqual(events, [.closed(id, .generalFailure)])
    }

    func testUnencodableTargetsAreNotOpened() {
        var a = MuxLink(role: .dialer, limits: MuxLimits(maxSessions: 8, maxPendingOpens: 8, maxWindow: 1 << 20))
        XCTAssertNil(a.open(.service(""), now: .now))
        XCTAssertNil(a.open(MuxTarget(address: .domain(String(repeating: "x", count: 256)), port: 80), now: .now))
        XCTAssertFalse(a.hasPendingOutput)
    }

    func testBufferedBytesReturnToZeroAfterSessionsEnd() throws {
        var p = LinkPair()
        p.consuming = []
        var ids: [UInt16] = []
        for i in 0..<4 {
            let id = try XCTUnwrap(p.a.open(tcp80, now: p.now))
            ids.append(id)
            p.a.send(id, bytes(100_000 * (i + 1)))
        }
        try p.pump()
        p.acceptAll()
        for id in ids { p.b.send(id, bytes(50_000)) }
        try p.pump()
        XCTAssertGreaterThan(p.a.bufferedBytes, 0)
        XCTAssertGreaterThan(p.b.bufferedBytes, 0)
        p.a.abort(ids[0], .reset)
        p.b.abort(ids[1], .reset)
        for id in ids[2...] { p.a.finish(id); p.b.finish(id) }
        try p.pump()
        // Sessions whose data is stuck behind an unread window end by abort; data the drivers
        // never consumed is released with them.
        for id in ids[2...] { p.b.abort(id, .reset) }
        try p.pump()
        XCTAssertEqual(p.a.sessionCount, 0)
        XCTAssertEqual(p.b.sessionCount, 0)
        XCTAssertEqual(p.a.bufferedBytes, 0)
        XCTAssertEqual(p.b.bufferedBytes, 0)
    }

    /// A stale `consumed` for an ID that was forgotten and reused does not corrupt the counts.
    func testConsumedPastWhatWasDeliveredIsIgnored() throws {
        var p = LinkPair()
        p.consuming = []
        let id = try XCTUnwrap(p.a.open(tcp80, now: p.now))
        p.a.send(id, bytes(10))
        try p.pump()
        p.b.consumed(id, 1_000_000, now: p.now, growthAllowance: .max)
        XCTAssertEqual(p.b.bufferedBytes, 0)
        p.b.consumed(id, 5, now: p.now, growthAllowance: .max)
        XCTAssertEqual(p.b.bufferedBytes, 0)
        XCTAssertGreaterThanOrEqual(p.b.bufferedBytes, 0)
    }
}
