import XCTest
@testable import Supervisor

/// When the supervisor restarts a dead child and when it gives up (a crash loop).
final class RestartPolicyTests: XCTestCase {
    let t0 = ContinuousClock.now

    func testBackoffDoublesFrom100MillisecondsTo10Seconds() {
        var p = RestartPolicy()
        var now = t0
        var waits: [Duration] = []
        // Deaths 2 s apart: never stable, but also too slow to be a crash loop (10 in 60 s).
        for _ in 0..<9 {
            guard case .restart(let wait) = p.childDied(startedAt: now - .milliseconds(5), now: now) else {
                return XCTFail("gave up after \(waits.count) deaths")
            }
            waits.append(wait)
            now = now + .seconds(7)
        }
        XCTAssertEqual(waits, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000].map { Duration.milliseconds($0) })
    }

    func testChildThatStayedUpStartsOverAtTheInitialDelay() {
        var p = RestartPolicy()
        var now = t0
        for _ in 0..<4 {
            _ = p.childDied(startedAt: now, now: now)
            now = now + .seconds(1)
        }
        XCTAssertEqual(p.childDied(startedAt: now, now: now), .restart(after: .milliseconds(1600)))
        // Up for the 30 s that count as stable: the next death is treated as a first one.
        let started = now + .seconds(1)
        now = started + RestartPolicy.stableAfter
        XCTAssertEqual(p.childDied(startedAt: started, now: now), .restart(after: .milliseconds(100)))
        XCTAssertEqual(p.childDied(startedAt: now, now: now + .milliseconds(1)), .restart(after: .milliseconds(200)))
    }

    func testUpJustShortOfStableKeepsDoubling() {
        var p = RestartPolicy()
        _ = p.childDied(startedAt: t0, now: t0)
        let started = t0 + .seconds(1)
        XCTAssertEqual(p.childDied(startedAt: started, now: started + .seconds(29)), .restart(after: .milliseconds(200)))
    }

    func testElevenDeathsWithinAMinuteIsACrashLoop() {
        var p = RestartPolicy()
        var decisions: [RestartPolicy.Decision] = []
        for i in 0..<11 {
            let now = t0 + .seconds(5 * i)   // 11 deaths in 50 s
            decisions.append(p.childDied(startedAt: now - .milliseconds(1), now: now))
        }
        XCTAssertEqual(decisions.prefix(10).filter { if case .restart = $0 { return true } else { return false } }.count, 10)
        XCTAssertEqual(decisions.last, .giveUp(deaths: 11))
    }

    func testDeathsSpreadOverMoreThanTheWindowNeverGiveUp() {
        var p = RestartPolicy()
        // One death every 7 s: at most 9 within any 60 s window, for ten minutes.
        for i in 0..<90 {
            let now = t0 + .seconds(7 * i)
            if case .giveUp(let n) = p.childDied(startedAt: now - .milliseconds(1), now: now) {
                return XCTFail("gave up at death \(i) with \(n) in the window")
            }
        }
    }

    func testOldDeathsLeaveTheWindow() {
        var p = RestartPolicy()
        for i in 0..<10 { _ = p.childDied(startedAt: t0, now: t0 + .milliseconds(i)) }
        // Ten deaths at once; the eleventh a minute and more later is not the eleventh in the window.
        let later = t0 + RestartPolicy.crashLoopWindow + .seconds(1)
        guard case .restart = p.childDied(startedAt: later - .seconds(1), now: later) else {
            return XCTFail("deaths older than the window were counted")
        }
    }
}

/// Issue 9, fault 7: a worker or acceptor crash loop never ends the service.
final class ServiceRestartPolicyTests: XCTestCase {
    let t0 = ContinuousClock.now

    func testWorkersAndAcceptorNeverGiveUpAndWaitAtMostASecond() {
        var p = RestartPolicy.servicePolicy()
        var waits: [Duration] = []
        // 120 deaths in a minute: the acceptor killed every half second.
        for i in 0..<120 {
            let now = t0 + .milliseconds(500 * i)
            guard case .restart(let wait) = p.childDied(startedAt: now - .milliseconds(100), now: now) else {
                return XCTFail("gave up at death \(i)")
            }
            waits.append(wait)
        }
        XCTAssertEqual(Array(waits.prefix(6)), [100, 200, 400, 800, 1000, 1000].map { Duration.milliseconds($0) })
        XCTAssertTrue(waits.allSatisfy { $0 <= RestartPolicy.serviceMaximumDelay })
        XCTAssertTrue(p.isCrashLooping(now: t0 + .seconds(60)))
    }

    func testCrashLoopIsReportedUntilTheDeathsAgeOut() {
        var p = RestartPolicy.servicePolicy()
        for i in 0..<4 { _ = p.childDied(startedAt: t0, now: t0 + .seconds(i)) }
        XCTAssertFalse(p.isCrashLooping(now: t0 + .seconds(4)))
        _ = p.childDied(startedAt: t0, now: t0 + .seconds(4))
        XCTAssertTrue(p.isCrashLooping(now: t0 + .seconds(5)))
        XCTAssertFalse(p.isCrashLooping(now: t0 + RestartPolicy.crashLoopWindow + .seconds(5)))
    }

    func testStableServiceChildStartsOverSooner() {
        var p = RestartPolicy.servicePolicy()
        for i in 0..<4 { _ = p.childDied(startedAt: t0, now: t0 + .milliseconds(i)) }
        let started = t0 + .seconds(1)
        XCTAssertEqual(p.childDied(startedAt: started, now: started + RestartPolicy.serviceStableAfter), .restart(after: .milliseconds(100)))
    }
}
