import XCTest
@testable import Acceptor

/// go-ethereum's inbound throttle as a pure table: an address seen within the window is
/// throttled, entries expire with the window, and the table stays bounded.
final class InboundThrottleTests: XCTestCase {
    let t0 = ContinuousClock.now

    func testSecondAttemptWithinTheWindowIsThrottled() {
        var t = InboundThrottle(window: InboundThrottle.defaultWindow)
        XCTAssertFalse(t.isThrottled("203.0.113.7", now: t0))
        XCTAssertTrue(t.isThrottled("203.0.113.7", now: t0 + .seconds(29)))
        XCTAssertFalse(t.isThrottled("203.0.113.8", now: t0 + .seconds(29)), "another address")
    }

    func testEveryAttemptRestartsTheWindow() {
        var t = InboundThrottle(window: .seconds(30))
        _ = t.isThrottled("203.0.113.7", now: t0)
        // A throttled attempt is recorded too: a client retrying every 20 s never gets in.
        XCTAssertTrue(t.isThrottled("203.0.113.7", now: t0 + .seconds(20)))
        XCTAssertTrue(t.isThrottled("203.0.113.7", now: t0 + .seconds(40)))
        XCTAssertFalse(t.isThrottled("203.0.113.7", now: t0 + .seconds(70)))
    }

    func testEntryExpiresWithTheWindow() {
        var t = InboundThrottle(window: .seconds(30))
        _ = t.isThrottled("203.0.113.7", now: t0)
        XCTAssertFalse(t.isThrottled("203.0.113.7", now: t0 + .seconds(30)), "exactly one window later")
    }

    func testZeroWindowThrottlesNothing() {
        var t = InboundThrottle(window: .zero)
        XCTAssertFalse(t.isThrottled("203.0.113.7", now: t0))
        XCTAssertFalse(t.isThrottled("203.0.113.7", now: t0))
    }

    func testTableIsBoundedAndKeepsTheNewest() {
        var t = InboundThrottle(window: .seconds(3600))
        let n = InboundThrottle.capacity + 10
        for i in 0..<n {
            _ = t.isThrottled("10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)", now: t0 + .milliseconds(i))
        }
        let now = t0 + .milliseconds(n)
        // The newest are remembered; the oldest were forgotten to make room.
        XCTAssertTrue(t.isThrottled("10.\((n - 1) >> 16 & 255).\((n - 1) >> 8 & 255).\((n - 1) & 255)", now: now))
        XCTAssertFalse(t.isThrottled("10.0.0.0", now: now))
    }

    func testExpireForgetsOnlyOldEntries() {
        var t = InboundThrottle(window: .seconds(30))
        _ = t.isThrottled("203.0.113.1", now: t0)
        _ = t.isThrottled("203.0.113.2", now: t0 + .seconds(20))
        t.expire(now: t0 + .seconds(31))
        XCTAssertFalse(t.isThrottled("203.0.113.1", now: t0 + .seconds(31)))
        XCTAssertTrue(t.isThrottled("203.0.113.2", now: t0 + .seconds(31)))
    }
}
