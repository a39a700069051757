import Foundation
import IPC
import PollLoop
import Synchronization
import XCTest

/// PollLoop: fd readiness, timers, signals, work from other threads, and IPC channels driven by it.
final class PollLoopTests: XCTestCase {
    private var baseline = 0

    override func setUp() { baseline = FD.openCount() }

    override func tearDown() { XCTAssertEqual(FD.openCount(), baseline, "fd leak: \(FD.listing())") }

    // MARK: fds

    func testReadableFDCallsItsHandler() throws {
        let loop = try PollLoop()
        let (readEnd, writeEnd) = FD.pipe()
        var seen: [UInt8] = []
        try loop.register(fd: readEnd, interest: .readable) { events in
            XCTAssertTrue(events.contains(.readable))
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 1)
            seen.append(byte)
            loop.unregister(fd: readEnd)
            loop.stop()
        }
        loop.schedule(after: .zero) {
            var byte: UInt8 = 42
            _ = write(writeEnd, &byte, 1)
        }
        runGuarded(loop)
        XCTAssertEqual(seen, [42])
        XCTAssertFalse(loop.isRegistered(fd: readEnd))
        FD.closeAll([readEnd, writeEnd])
    }

    func testWriteInterestCanBeSwitchedOnAndOff() throws {
        let loop = try PollLoop()
        let (readEnd, writeEnd) = FD.pipe()
        var calls: [PollEvents] = []
        try loop.register(fd: writeEnd, interest: []) { events in
            calls.append(events)
            // Off again: the still-writable pipe must not call this handler any more.
            loop.setInterest([], for: writeEnd)
            if calls.count == 1 { loop.schedule(after: .milliseconds(10)) { loop.stop() } }
        }
        // With no interest the handler is not called; switching writable on calls it.
        loop.schedule(after: .milliseconds(5)) {
            XCTAssertEqual(calls, [])
            loop.setInterest(.writable, for: writeEnd)
            XCTAssertEqual(loop.interest(for: writeEnd), .writable)
        }
        runGuarded(loop)
        XCTAssertEqual(calls, [.writable])
        loop.removeAll()  // the handler captures the loop: break the cycle
        XCTAssertFalse(loop.isRegistered(fd: writeEnd))
        FD.closeAll([readEnd, writeEnd])
    }

    func testHangupIsReported() throws {
        let loop = try PollLoop()
        let (readEnd, writeEnd) = FD.pipe()
        var events: PollEvents = []
        try loop.register(fd: readEnd, interest: .readable) { e in
            events = e
            loop.unregister(fd: readEnd)
            loop.stop()
        }
        close(writeEnd)
        runGuarded(loop)
        XCTAssertTrue(events.contains(.hangup))
        XCTAssertTrue(events.allowsRead)
        close(readEnd)
    }

    func testAClosedRegisteredFDIsReportedInvalidThenDropped() throws {
        let loop = try PollLoop()
        let (readEnd, writeEnd) = FD.pipe()
        var calls: [PollEvents] = []
        try loop.register(fd: readEnd, interest: .readable) { calls.append($0) }
        close(readEnd)
        loop.schedule(after: .milliseconds(20)) { loop.stop() }
        runGuarded(loop)
        XCTAssertEqual(calls, [.invalid])
        XCTAssertFalse(loop.isRegistered(fd: readEnd))
        close(writeEnd)
    }

    func testRegistrationErrors() throws {
        let loop = try PollLoop()
        let (readEnd, writeEnd) = FD.pipe()
        try loop.register(fd: readEnd, interest: .readable) { _ in }
        XCTAssertThrowsError(try loop.register(fd: readEnd, interest: .readable) { _ in }) {
            XCTAssertEqual($0 as? PollLoopError, .alreadyRegistered(readEnd))
        }
        XCTAssertThrowsError(try loop.register(fd: -1, interest: .readable) { _ in }) {
            XCTAssertEqual($0 as? PollLoopError, .invalidDescriptor(-1))
        }
        loop.unregister(fd: readEnd)
        FD.closeAll([readEnd, writeEnd])
    }

    func testRunInsideRunIsRefused() throws {
        let loop = try PollLoop()
        var nested: PollLoopError?
        loop.schedule(after: .zero) {
            do { try loop.run() } catch { nested = error as? PollLoopError }
            loop.stop()
        }
        runGuarded(loop)
        XCTAssertEqual(nested, .alreadyRunning)
        XCTAssertFalse(loop.isRunning)
    }

    func testRemoveAllBreaksCyclesSoTheLoopIsFreed() throws {
        let (readEnd, writeEnd) = FD.pipe()
        weak var weakLoop: PollLoop?
        do {
            let loop = try PollLoop()
            weakLoop = loop
            // Everything below captures the loop strongly.
            try loop.register(fd: readEnd, interest: .readable) { _ in loop.stop() }
            loop.schedule(after: .seconds(3600)) { loop.stop() }
            _ = loop.makeMailbox { (_: Int) in loop.stop() }
            try loop.onSignal(SIGUSR1) { loop.stop() }
            loop.removeAll()
            XCTAssertFalse(loop.isRegistered(fd: readEnd))
            // Still usable afterwards.
            loop.schedule(after: .zero) { loop.stop() }
            runGuarded(loop)
        }
        XCTAssertNil(weakLoop, "the loop was freed (its eventfd and signal pipe with it)")
        // The signal is free for another loop again.
        let next = try PollLoop()
        XCTAssertNoThrow(try next.onSignal(SIGUSR1) {})
        next.removeSignalHandler(SIGUSR1)
        FD.closeAll([readEnd, writeEnd])
    }

    // MARK: timers

    /// Order on the real clock, arranged so it cannot depend on how fast scheduling runs:
    /// increasing delays scheduled in increasing order, equal delays in scheduling order.
    /// (TimerQueueTests checks the heap with explicit deadlines.)
    func testTimersFireInDeadlineOrderThenSchedulingOrder() throws {
        let loop = try PollLoop()
        var order: [String] = []
        loop.schedule(after: .milliseconds(10)) { order.append("10ms") }
        loop.schedule(after: .milliseconds(20)) { order.append("20ms") }
        loop.schedule(after: .milliseconds(30)) {
            order.append("30ms")
            loop.stop()
        }
        loop.schedule(after: .zero) { order.append("now-a") }
        loop.schedule(after: .zero) { order.append("now-b") }
        runGuarded(loop)
        XCTAssertEqual(order.filter { $0.hasSuffix("ms") }, ["10ms", "20ms", "30ms"])
        XCTAssertEqual(order.filter { $0.hasPrefix("now") }, ["now-a", "now-b"])
        XCTAssertEqual(order.count, 5)
    }

    func testRepeatingTimerRepeatsUntilCancelled() throws {
        let loop = try PollLoop()
        var ticks = 0
        var timer: PollLoopTimerID?
        timer = loop.schedule(after: .zero, repeating: .milliseconds(1)) {
            ticks += 1
            if ticks == 5 {
                loop.cancel(timer!)
                loop.schedule(after: .milliseconds(20)) { loop.stop() }
            }
        }
        XCTAssertTrue(loop.isScheduled(timer!))
        runGuarded(loop)
        XCTAssertEqual(ticks, 5, "no tick after cancel")
        XCTAssertFalse(loop.isScheduled(timer!))
    }

    func testCancelledTimersNeverFire() throws {
        let loop = try PollLoop()
        var fired: [String] = []
        let early = loop.schedule(after: .milliseconds(1)) { fired.append("early") }
        loop.cancel(early)
        var sameTurn: PollLoopTimerID?
        // Both due in the same turn: the first cancels the second, which must not run.
        loop.schedule(after: .zero) {
            fired.append("first")
            loop.cancel(sameTurn!)
        }
        sameTurn = loop.schedule(after: .zero) { fired.append("second") }
        loop.schedule(after: .milliseconds(10)) { loop.stop() }
        runGuarded(loop)
        XCTAssertEqual(fired, ["first"])
        XCTAssertFalse(loop.isScheduled(early))
    }

    func testManyScheduledAndCancelledTimers() throws {
        let loop = try PollLoop()
        var fired: [Int] = []
        var ids: [PollLoopTimerID] = []
        for i in 0..<500 {
            ids.append(loop.schedule(after: .milliseconds(Int64(i % 7))) { fired.append(i) })
        }
        for (i, id) in ids.enumerated() where i % 3 != 0 { loop.cancel(id) }
        loop.schedule(after: .milliseconds(30)) { loop.stop() }
        runGuarded(loop)
        let expected = (0..<500).filter { $0 % 3 == 0 }
        XCTAssertEqual(fired.sorted(), expected)
        // Timers with the same delay were scheduled at non-decreasing times, so their deadlines
        // never decrease: they fire in scheduling order (equal deadlines break ties by it).
        for delay in 0..<7 {
            XCTAssertEqual(fired.filter { $0 % 7 == delay }, expected.filter { $0 % 7 == delay })
        }
    }

    // MARK: signals

    func testSignalsArriveAsEvents() throws {
        let loop = try PollLoop()
        var received: [String] = []
        var sender: JoinableThread?
        try loop.onSignal(SIGUSR1) { received.append("USR1") }
        try loop.onSignal(SIGUSR2) {
            received.append("USR2")
            loop.stop()
        }
        loop.schedule(after: .zero) {
            raise(SIGUSR1)
            // From another thread, to the whole process.
            sender = JoinableThread { kill(getpid(), SIGUSR2) }
        }
        runGuarded(loop)
        sender?.join()
        XCTAssertEqual(received, ["USR1", "USR2"])
        loop.removeSignalHandler(SIGUSR1)
        loop.removeSignalHandler(SIGUSR2)
    }

    func testASignalBelongsToOneLoopAndIsGivenBack() throws {
        let previous = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, previous) }
        let first = try PollLoop()
        let second = try PollLoop()
        try first.onSignal(SIGUSR1) {}
        try first.onSignal(SIGUSR1) {}  // replacing its own handler is fine
        XCTAssertThrowsError(try second.onSignal(SIGUSR1) {}) {
            XCTAssertEqual($0 as? PollLoopError, .signalAlreadyHandled(SIGUSR1))
        }
        first.removeSignalHandler(SIGUSR1)
        // The action from before is back (SIG_IGN), and the second loop may now take it.
        var current = sigaction()
        sigaction(SIGUSR1, nil, &current)
        XCTAssertEqual(unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self),
                       unsafeBitCast(SIG_IGN, to: Int.self))
        try second.onSignal(SIGUSR1) {}
        second.removeSignalHandler(SIGUSR1)
    }

    func testALoopGivesItsSignalsBackWhenDeallocated() throws {
        do {
            let loop = try PollLoop()
            try loop.onSignal(SIGUSR2) {}
        }
        let next = try PollLoop()
        XCTAssertNoThrow(try next.onSignal(SIGUSR2) {})
        next.removeSignalHandler(SIGUSR2)
    }

    // MARK: other threads

    func testExecuteRunsWorkFromAnotherThreadOnTheLoopThreadInOrder() throws {
        let loop = try PollLoop()
        let remote = loop.remote
        let loopThread = pthread_self()
        let log = Mutex<[Int]>([])
        let offThread = Mutex(0)
        let poster = JoinableThread {
            for i in 0..<100 {
                remote.execute {
                    if pthread_self() != loopThread { offThread.withLock { $0 += 1 } }
                    log.withLock { $0.append(i) }
                }
            }
            remote.execute { remote.stop() }
        }
        runGuarded(loop)
        poster.join()
        XCTAssertEqual(log.withLock { $0 }, Array(0..<100))
        XCTAssertEqual(offThread.withLock { $0 }, 0)
    }

    func testStopFromAnotherThreadWakesABlockedLoop() throws {
        let loop = try PollLoop()
        let remote = loop.remote
        // No timers and no fds of its own: poll blocks until the eventfd wakes it.
        var stopper: JoinableThread?
        loop.schedule(after: .zero) {
            stopper = JoinableThread { remote.stop() }
        }
        runGuarded(loop)
        stopper?.join()
    }

    func testStopBeforeRunReturnsAtOnceAndTheLoopRunsAgain() throws {
        let loop = try PollLoop()
        loop.remote.stop()
        var ran = false
        loop.schedule(after: .zero) { ran = true }
        try loop.run()
        XCTAssertFalse(ran, "run returned before its first turn")
        loop.schedule(after: .zero) { loop.stop() }
        runGuarded(loop)
        XCTAssertTrue(ran)
    }

    func testMailboxDeliversValuesToLoopState() throws {
        let loop = try PollLoop()
        var received: [String] = []  // loop-thread state the handler may touch
        let mailbox = loop.makeMailbox { (message: String) in
            received.append(message)
            if received.count == 50 { loop.stop() }
        }
        let poster = JoinableThread {
            for i in 0..<50 { mailbox.post("m\(i)") }
        }
        runGuarded(loop)
        poster.join()
        XCTAssertEqual(received, (0..<50).map { "m\($0)" })
        loop.closeMailbox(mailbox)
        mailbox.post("dropped")
        loop.schedule(after: .milliseconds(5)) { loop.stop() }
        runGuarded(loop)
        XCTAssertEqual(received.count, 50)
    }

    // MARK: IPC channels on the loop

    func testChannelsDrivenByTheLoopDeliverEveryFrameAndFD() throws {
        let loop = try PollLoop()
        let (a, b) = try IPCChannel.makePair(
            accepting: IPCMessageType.types(from: .worker, to: .acceptor),
            IPCMessageType.types(from: .acceptor, to: .worker))
        try attach(a, to: loop)
        try attach(b, to: loop)
        let total = 300
        var receivedIDs: [UInt64] = []
        var acknowledged: [UInt64] = []
        var sawQueueing = false
        var failures: [IPCChannelError] = []
        b.onFrame = { frame in
            guard case .inboundConnection(let m) = frame.message else { return XCTFail("\(frame.message)") }
            receivedIDs.append(m.connectionID)
            // The fd works: write into the pipe it is the write end of, then close it.
            var byte = UInt8(truncatingIfNeeded: m.connectionID)
            XCTAssertEqual(write(frame.descriptors[0], &byte, 1), 1)
            FD.closeAll(frame.descriptors)
            do { try b.send(.handshakeSlotFreed(.init(connectionID: m.connectionID, outcome: .failed))) } catch { XCTFail("\(error)") }
        }
        a.onFrame = { frame in
            guard case .handshakeSlotFreed(let m) = frame.message else { return XCTFail("\(frame.message)") }
            acknowledged.append(m.connectionID)
            if acknowledged.count == total { loop.stop() }
        }
        a.onFailure = { failures.append($0) }
        b.onFailure = { failures.append($0) }
        var readEnds: [CInt] = []
        loop.schedule(after: .zero) {
            // All at once, so the socket fills and the rest waits in the queue for the loop.
            for i in 0..<total {
                let (readEnd, writeEnd) = FD.pipe()
                readEnds.append(readEnd)
                do {
                    try a.send(.inboundConnection(.init(connectionID: UInt64(i), remoteAddress: "::1", remotePort: 1)),
                               transferring: [writeEnd])
                } catch { XCTFail("\(error)") }
                if a.wantsWritable { sawQueueing = true }
            }
            XCTAssertEqual(loop.interest(for: a.fileDescriptor), [.readable, .writable])
        }
        runGuarded(loop)
        XCTAssertTrue(sawQueueing, "the test never exercised the send queue")
        XCTAssertEqual(receivedIDs, (0..<UInt64(total)).map { $0 })
        XCTAssertEqual(acknowledged, receivedIDs)
        XCTAssertEqual(loop.interest(for: a.fileDescriptor), .readable, "write interest only while queued")
        XCTAssertEqual(failures, [])
        for (i, readEnd) in readEnds.enumerated() {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 1)
            XCTAssertEqual(byte, UInt8(truncatingIfNeeded: i))
        }
        FD.closeAll(readEnds)

        // Closing one end: the other reports peerClosed once, through the loop.
        a.close()
        b.onFailure = { error in
            failures.append(error)
            b.close()
            loop.stop()
        }
        runGuarded(loop)
        XCTAssertEqual(failures, [.peerClosed])
        XCTAssertFalse(loop.isRegistered(fd: b.fileDescriptor), "close() unregistered it")
    }

    func testABadFrameOnTheLoopBreaksOnlyThatChannel() throws {
        let loop = try PollLoop()
        let (raw, end) = FD.seqpacketPair()
        let broken = try IPCChannel(adopting: end)
        let (good, goodPeer) = try IPCChannel.makePair()
        try attach(broken, to: loop)
        try attach(good, to: loop)
        var failures: [IPCChannelError] = []
        var goodFrames = 0
        let brokenFD = broken.fileDescriptor
        broken.onFailure = { failures.append($0) }  // the channel closes itself afterwards
        good.onFrame = { _ in
            goodFrames += 1
            loop.stop()
        }
        var garbage: [UInt8] = [1, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(write(raw, &garbage, garbage.count), garbage.count)
        loop.schedule(after: .milliseconds(10)) {
            do { try goodPeer.send(.shutdown(.init(disconnectReason: 8))) } catch { XCTFail("\(error)") }
        }
        runGuarded(loop)
        XCTAssertEqual(failures, [.badFrame(.unknownMessageType(0x7f))])
        XCTAssertTrue(broken.isClosed)
        XCTAssertEqual(broken.failure, .badFrame(.unknownMessageType(0x7f)), "the first error is kept")
        XCTAssertFalse(loop.isRegistered(fd: brokenFD))
        XCTAssertEqual(goodFrames, 1)
        close(raw)
        good.close()
        goodPeer.close()
    }
}
