/// Names a timer scheduled on a PollLoop, for cancelling it.
public struct PollLoopTimerID: Sendable, Hashable {
    let value: UInt64
}

/// The loop's timers: a binary min-heap of deadlines plus a table of live timers. Cancelling
/// removes the table entry; the heap entry is skipped when it comes up (lazy deletion).
struct TimerQueue {
    private struct Entry {
        var deadline: UInt64
        /// Breaks ties so timers with one deadline fire in the order they were scheduled.
        var sequence: UInt64
        var id: PollLoopTimerID
    }

    private struct Timer {
        var deadline: UInt64
        var interval: UInt64?
        var action: () -> Void
    }

    private var heap: [Entry] = []
    private var timers: [PollLoopTimerID: Timer] = [:]
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { timers.isEmpty }
    var count: Int { timers.count }

    mutating func schedule(deadline: UInt64, interval: UInt64?, action: @escaping () -> Void) -> PollLoopTimerID {
        let id = PollLoopTimerID(value: nextSequence)
        timers[id] = Timer(deadline: deadline, interval: interval, action: action)
        push(Entry(deadline: deadline, sequence: nextSequence, id: id))
        nextSequence += 1
        return id
    }

    mutating func cancel(_ id: PollLoopTimerID) {
        timers[id] = nil
        // Without this, a loop that schedules and cancels many timers would grow the heap.
        if heap.count > 64 && heap.count > 4 * timers.count { rebuild() }
    }

    func contains(_ id: PollLoopTimerID) -> Bool { timers[id] != nil }

    /// The earliest live deadline, dropping stale heap entries on the way.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.first {
            if let timer = timers[top.id], timer.deadline == top.deadline { return top.deadline }
            popTop()
        }
        return nil
    }

    /// Removes and returns the action of the earliest timer due at `now`, rescheduling it first
    /// if it repeats (a repeating timer that fell behind skips the missed ticks).
    mutating func popDue(now: UInt64) -> (() -> Void)? {
        guard let deadline = nextDeadline(), deadline <= now, let top = heap.first,
              var timer = timers[top.id] else { return nil }
        popTop()
        if let interval = timer.interval {
            var next = timer.deadline &+ interval
            if next <= now { next = now &+ interval }
            timer.deadline = next
            timers[top.id] = timer
            push(Entry(deadline: next, sequence: nextSequence, id: top.id))
            nextSequence += 1
        } else {
            timers[top.id] = nil
        }
        return timer.action
    }

    private func less(_ a: Entry, _ b: Entry) -> Bool {
        (a.deadline, a.sequence) < (b.deadline, b.sequence)
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func rebuild() {
        let live = heap.filter { entry in timers[entry.id].map { $0.deadline == entry.deadline } ?? false }
        heap = []
        for entry in live { push(entry) }
    }
}
