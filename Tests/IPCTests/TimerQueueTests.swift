@testable import PollLoop
import XCTest

/// The loop's timer heap, with explicit deadlines (no clock involved).
final class TimerQueueTests: XCTestCase {
    private func drain(_ queue: inout TimerQueue, now: UInt64) -> Int {
        var fired = 0
        while let action = queue.popDue(now: now) {
            action()
            fired += 1
        }
        return fired
    }

    func testDeadlineOrderWithTiesInSchedulingOrder() {
        var queue = TimerQueue()
        var order: [Int] = []
        let deadlines: [UInt64] = [50, 10, 40, 10, 30, 0, 20, 10]
        for (i, deadline) in deadlines.enumerated() {
            _ = queue.schedule(deadline: deadline, interval: nil) { order.append(i) }
        }
        XCTAssertEqual(queue.nextDeadline(), 0)
        XCTAssertEqual(drain(&queue, now: 25), 5)
        XCTAssertEqual(order, [5, 1, 3, 7, 6])
        XCTAssertEqual(queue.nextDeadline(), 30)
        XCTAssertEqual(drain(&queue, now: 100), 3)
        XCTAssertEqual(order, [5, 1, 3, 7, 6, 4, 2, 0])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.nextDeadline())
    }

    func testNothingFiresBeforeItsDeadline() {
        var queue = TimerQueue()
        var fired = false
        _ = queue.schedule(deadline: 1000, interval: nil) { fired = true }
        XCTAssertNil(queue.popDue(now: 999))
        XCTAssertFalse(fired)
        XCTAssertNotNil(queue.popDue(now: 1000))
    }

    func testCancelledTimersAreSkipped() {
        var queue = TimerQueue()
        var order: [Int] = []
        let ids = (0..<5).map { i in queue.schedule(deadline: UInt64(i), interval: nil) { order.append(i) } }
        queue.cancel(ids[0])
        queue.cancel(ids[3])
        XCTAssertFalse(queue.contains(ids[0]))
        XCTAssertEqual(queue.nextDeadline(), 1, "a cancelled head is dropped")
        XCTAssertEqual(drain(&queue, now: 10), 3)
        XCTAssertEqual(order, [1, 2, 4])
    }

    func testRepeatingTimerKeepsItsRateAndSkipsMissedTicks() {
        var queue = TimerQueue()
        var ticks = 0
        let id = queue.schedule(deadline: 100, interval: 10) { ticks += 1 }
        XCTAssertNotNil(queue.popDue(now: 100))
        XCTAssertEqual(queue.nextDeadline(), 110, "next tick is one interval after the last deadline")
        XCTAssertNotNil(queue.popDue(now: 113))
        XCTAssertEqual(queue.nextDeadline(), 120, "late by 3: still on the 10-grid")
        XCTAssertNotNil(queue.popDue(now: 175))
        XCTAssertEqual(queue.nextDeadline(), 185, "far behind: missed ticks skipped, not replayed")
        XCTAssertNil(queue.popDue(now: 175))
        queue.cancel(id)
        XCTAssertNil(queue.nextDeadline())
        XCTAssertTrue(queue.isEmpty)
    }

    func testHeavyCancellationKeepsTheHeapCorrect() {
        var queue = TimerQueue()
        var fired: [Int] = []
        var ids: [PollLoopTimerID] = []
        // Pseudo-random deadlines (fixed LCG), most cancelled: exercises the rebuild path.
        var state: UInt64 = 12345
        var deadlines: [UInt64] = []
        for i in 0..<2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let deadline = (state >> 33) % 1000
            deadlines.append(deadline)
            ids.append(queue.schedule(deadline: deadline, interval: nil) { fired.append(i) })
        }
        for (i, id) in ids.enumerated() where i % 10 != 0 { queue.cancel(id) }
        XCTAssertEqual(queue.count, 200)
        XCTAssertEqual(drain(&queue, now: 1000), 200)
        let expected = (0..<2000).filter { $0 % 10 == 0 }.sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        XCTAssertEqual(fired, expected)
    }
}
