import XCTest
@testable import PeerManager

/// The static-node dial schedule: who is due, the backoff from 1 s doubling to 60 s, and its
/// reset on a connection. The clock is injected, so no test waits.
final class DialSchedulerTests: XCTestCase {
    static let a = DialScheduler.Target(nodeID: [UInt8](repeating: 0xA1, count: 64), ip: "127.0.0.1", port: 30303)
    static let b = DialScheduler.Target(nodeID: [UInt8](repeating: 0xB2, count: 64), ip: "10.0.0.2", port: 30304)

    let t0 = ContinuousClock.now
    static let nobodyPresent: @Sendable ([UInt8]) -> Bool = { _ in false }

    func testNewStaticNodeIsDueAtOnce() {
        var d = DialScheduler()
        d.add(Self.a)
        XCTAssertTrue(d.isStatic(Self.a.nodeID))
        XCTAssertFalse(d.isStatic(Self.b.nodeID))
        XCTAssertEqual(d.due(now: t0, isPresent: Self.nobodyPresent), [Self.a])
    }

    func testNodeBeingDialedOrPresentIsNotDue() {
        var d = DialScheduler()
        d.add(Self.a)
        d.add(Self.b)
        d.started(nodeID: Self.a.nodeID, connectionID: 10)
        XCTAssertTrue(d.isDialing(connectionID: 10))
        XCTAssertFalse(d.isDialing(connectionID: 11))
        XCTAssertEqual(d.due(now: t0, isPresent: Self.nobodyPresent), [Self.b], "a is being dialed")
        XCTAssertEqual(d.due(now: t0, isPresent: { $0 == Self.b.nodeID }), [], "b is connected (or handshaking) already")
    }

    func testFailedDialsBackOffDoublingFromOneSecondToSixtySeconds() {
        var d = DialScheduler()
        d.add(Self.a)
        var now = t0
        var waits: [Duration] = []
        for attempt in 0..<9 {
            let connection = UInt64(attempt + 1)
            d.started(nodeID: Self.a.nodeID, connectionID: connection)
            d.failed(connectionID: connection, now: now)
            XCTAssertFalse(d.isDialing(connectionID: connection))
            // Find the wait: not due just before it, due exactly at it.
            let wait = Self.expectedWait(attempt)
            XCTAssertEqual(d.due(now: now + wait - .milliseconds(1), isPresent: Self.nobodyPresent), [], "attempt \(attempt)")
            XCTAssertEqual(d.due(now: now + wait, isPresent: Self.nobodyPresent), [Self.a], "attempt \(attempt)")
            waits.append(wait)
            now = now + wait
        }
        XCTAssertEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
    }

    static func expectedWait(_ attempt: Int) -> Duration {
        min(DialScheduler.initialBackoff * (1 << attempt), DialScheduler.maximumBackoff)
    }

    func testConnectionResetsTheBackoff() {
        var d = DialScheduler()
        d.add(Self.a)
        for c in UInt64(1)...4 {   // 1, 2, 4, 8 s
            d.started(nodeID: Self.a.nodeID, connectionID: c)
            d.failed(connectionID: c, now: t0)
        }
        XCTAssertEqual(d.due(now: t0 + .seconds(7), isPresent: Self.nobodyPresent), [], "the fourth failure waits 8 s")
        d.connected(nodeID: Self.a.nodeID)
        XCTAssertEqual(d.due(now: t0, isPresent: Self.nobodyPresent), [Self.a], "a connection clears the wait")
        d.started(nodeID: Self.a.nodeID, connectionID: 5)
        d.failed(connectionID: 5, now: t0)
        XCTAssertEqual(d.due(now: t0 + .seconds(1), isPresent: Self.nobodyPresent), [Self.a], "and the next failure waits 1 s again")
    }

    func testDisconnectedStaticPeerIsRedialedAfterTheInitialBackoff() {
        var d = DialScheduler()
        d.add(Self.a)
        d.started(nodeID: Self.a.nodeID, connectionID: 1)
        d.connected(nodeID: Self.a.nodeID)
        XCTAssertEqual(d.due(now: t0, isPresent: { _ in true }), [], "connected")
        d.disconnected(nodeID: Self.a.nodeID, now: t0)
        XCTAssertEqual(d.due(now: t0 + .milliseconds(999), isPresent: Self.nobodyPresent), [])
        XCTAssertEqual(d.due(now: t0 + DialScheduler.initialBackoff, isPresent: Self.nobodyPresent), [Self.a])
    }

    func testInboundConnectionOfAStaticNodeClearsItsDialState() {
        var d = DialScheduler()
        d.add(Self.a)
        d.started(nodeID: Self.a.nodeID, connectionID: 1)
        d.failed(connectionID: 1, now: t0)
        // The node dialed us meanwhile: `connected` is called for any connection of it.
        d.connected(nodeID: Self.a.nodeID)
        XCTAssertEqual(d.due(now: t0, isPresent: Self.nobodyPresent), [Self.a])
    }

    func testRemovedNodeIsNeverDue() {
        var d = DialScheduler()
        d.add(Self.a)
        d.add(Self.b)
        d.remove(nodeID: Self.a.nodeID)
        XCTAssertFalse(d.isStatic(Self.a.nodeID))
        XCTAssertEqual(d.due(now: t0 + .seconds(3600), isPresent: Self.nobodyPresent), [Self.b])
        XCTAssertEqual(d.targets, [Self.b])
    }

    func testReaddingKeepsTheBackoffAndTakesTheNewAddress() {
        var d = DialScheduler()
        d.add(Self.a)
        d.started(nodeID: Self.a.nodeID, connectionID: 1)
        d.failed(connectionID: 1, now: t0)
        let moved = DialScheduler.Target(nodeID: Self.a.nodeID, ip: "127.0.0.2", port: 40000)
        d.add(moved)
        XCTAssertEqual(d.targets, [moved])
        XCTAssertEqual(d.due(now: t0 + .milliseconds(500), isPresent: Self.nobodyPresent), [], "still backing off")
        XCTAssertEqual(d.due(now: t0 + .seconds(1), isPresent: Self.nobodyPresent), [moved])
    }

    func testFailureOfAnUnknownDialChangesNothing() {
        var d = DialScheduler()
        d.add(Self.a)
        d.started(nodeID: Self.a.nodeID, connectionID: 1)
        d.failed(connectionID: 2, now: t0)
        XCTAssertTrue(d.isDialing(connectionID: 1))
        XCTAssertEqual(d.due(now: t0, isPresent: Self.nobodyPresent), [])
    }
}
