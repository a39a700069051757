import CStockade
#if canImport(Glibc)
import Glibc
#endif

/// A small single-threaded poll(2) reactor: fds with read/write interest and a handler,
/// one-shot and repeating timers on the monotonic clock, signals delivered as events (through a
/// self-pipe), and work posted from other threads (through an eventfd, see PollLoopRemote).
///
/// Everything but `remote` is used from the loop's own thread. Handlers may register,
/// unregister, schedule, cancel and stop freely, including for their own fd.
///
/// poll(2) is level-triggered: a handler that leaves data unread is called again next turn.
/// An fd closed while registered reports `.invalid` once and is then unregistered by the loop;
/// unregister before closing (a reused fd number would otherwise be watched by mistake).
///
/// The loop holds its handlers, timers and mailboxes strongly, and they often capture the loop:
/// call `removeAll()` when done (or unregister / cancel each) so that such cycles are broken.
public final class PollLoop {
    private final class Registration {
        let fd: CInt
        var interest: PollEvents
        let handler: (PollEvents) -> Void

        init(fd: CInt, interest: PollEvents, handler: @escaping (PollEvents) -> Void) {
            self.fd = fd
            self.interest = interest
            self.handler = handler
        }
    }

    /// Post work or stop from any thread.
    public let remote: PollLoopRemote

    private var registrations: [CInt: Registration] = [:]
    private var timers = TimerQueue()
    private var mailboxes: [UInt64: (any Sendable) -> Void] = [:]
    private var nextMailboxID: UInt64 = 0
    private var signalHandlers: [CInt: () -> Void] = [:]
    /// Self-pipe for signals, created with the first signal handler: [read end, write end].
    private var signalPipe: [CInt]?
    private var running = false
    private var stopRequested = false

    public init() throws(PollLoopError) {
        remote = try PollLoopRemote()
        let remote = remote
        registrations[remote.wakeDescriptor] = Registration(
            fd: remote.wakeDescriptor, interest: .readable,
            handler: { [unowned self] _ in self.runPostedJobs() })
    }

    deinit {
        for signal in signalHandlers.keys {
            _ = stockade_signal_unforward(signal, signalPipe![1])
        }
        if let signalPipe {
            close(signalPipe[0])
            close(signalPipe[1])
        }
    }

    // MARK: fds

    /// Watches `fd` for `interest` (readable and/or writable); `handler` gets the events that
    /// occurred, including hangup/error/invalid. The fd stays the caller's.
    public func register(fd: CInt, interest: PollEvents,
                         handler: @escaping (PollEvents) -> Void) throws(PollLoopError) {
        guard fd >= 0 else { throw .invalidDescriptor(fd) }
        guard registrations[fd] == nil else { throw .alreadyRegistered(fd) }
        registrations[fd] = Registration(fd: fd, interest: interest, handler: handler)
    }

    /// Changes what `fd` is watched for; does nothing if it is not registered.
    public func setInterest(_ interest: PollEvents, for fd: CInt) {
        registrations[fd]?.interest = interest
    }

    public func interest(for fd: CInt) -> PollEvents? { registrations[fd]?.interest }

    /// Stops watching `fd` (its handler is not called again, even for events of this turn).
    public func unregister(fd: CInt) {
        registrations[fd] = nil
    }

    public func isRegistered(fd: CInt) -> Bool { registrations[fd] != nil }

    // MARK: timers

    /// Runs `action` once after `delay`, then every `interval` if one is given (which must be
    /// positive). A repeating timer that falls behind skips the ticks it missed.
    @discardableResult
    public func schedule(after delay: Duration, repeating interval: Duration? = nil,
                         _ action: @escaping () -> Void) -> PollLoopTimerID {
        var intervalNanoseconds: UInt64?
        if let interval {
            precondition(interval > .zero, "a repeating timer needs a positive interval")
            intervalNanoseconds = max(1, interval.clampedNanoseconds)
        }
        let deadline = MonotonicClock.nanoseconds() &+ delay.clampedNanoseconds
        return timers.schedule(deadline: deadline, interval: intervalNanoseconds, action: action)
    }

    /// Cancels a timer; does nothing if it already fired (one-shot) or was cancelled.
    public func cancel(_ timer: PollLoopTimerID) {
        timers.cancel(timer)
    }

    public func isScheduled(_ timer: PollLoopTimerID) -> Bool { timers.contains(timer) }

    // MARK: signals

    /// Delivers `signal` to `handler` on the loop's thread. A signal's handler is process-wide:
    /// this fails with `.signalAlreadyHandled` if another loop has it; replacing this loop's own
    /// handler is fine. Several deliveries before the loop's turn may coalesce into one call.
    public func onSignal(_ signal: CInt, _ handler: @escaping () -> Void) throws(PollLoopError) {
        let pipe = try makeSignalPipe()
        if signalHandlers[signal] == nil {
            guard stockade_signal_forward(signal, pipe[1]) == 0 else {
                let code = errno
                throw code == EBUSY ? .signalAlreadyHandled(signal) : .system(operation: "sigaction", errno: code)
            }
        }
        signalHandlers[signal] = handler
    }

    /// Gives `signal` back the action it had before `onSignal`.
    public func removeSignalHandler(_ signal: CInt) {
        guard signalHandlers.removeValue(forKey: signal) != nil, let signalPipe else { return }
        _ = stockade_signal_unforward(signal, signalPipe[1])
    }

    private func makeSignalPipe() throws(PollLoopError) -> [CInt] {
        if let signalPipe { return signalPipe }
        var fds: [CInt] = [-1, -1]
        guard stockade_pipe_nonblocking(&fds) == 0 else { throw .system(operation: "pipe2", errno: errno) }
        signalPipe = fds
        registrations[fds[0]] = Registration(
            fd: fds[0], interest: .readable,
            handler: { [unowned self] _ in self.dispatchSignals() })
        return fds
    }

    private func dispatchSignals() {
        guard let signalPipe else { return }
        var buffer = [UInt8](repeating: 0, count: 64)
        var pending = Set<CInt>()
        while true {
            let n = read(signalPipe[0], &buffer, buffer.count)
            if n <= 0 { break }
            for byte in buffer[0..<n] { pending.insert(CInt(byte)) }
        }
        for signal in pending.sorted() { signalHandlers[signal]?() }
    }

    // MARK: work from other threads

    /// Runs `work` on the loop's thread at its next turn (same as `remote.execute`).
    public func execute(_ work: @escaping @Sendable () -> Void) {
        remote.execute(work)
    }

    /// A typed inbox: values posted to the returned mailbox from any thread reach `handler` on
    /// the loop's thread.
    public func makeMailbox<Message: Sendable>(_ handler: @escaping (Message) -> Void) -> PollLoopMailbox<Message> {
        let id = nextMailboxID
        nextMailboxID += 1
        mailboxes[id] = { payload in
            // Only PollLoopMailbox<Message> posts to this id, so the cast always succeeds.
            if let message = payload as? Message { handler(message) }
        }
        return PollLoopMailbox(remote: remote, id: id)
    }

    /// Stops delivering to a mailbox; values posted to it afterwards are dropped.
    public func closeMailbox<Message>(_ mailbox: PollLoopMailbox<Message>) {
        mailboxes[mailbox.id] = nil
    }

    private func runPostedJobs() {
        for job in remote.takeJobs() {
            switch job {
            case .work(let work): work()
            case .mail(let id, let payload): mailboxes[id]?(payload)
            }
        }
    }

    /// Drops every registration, timer, mailbox and signal handler (signals get their previous
    /// action back). The loop stays usable; its remote keeps working.
    public func removeAll() {
        for signal in Array(signalHandlers.keys) { removeSignalHandler(signal) }
        let wake = registrations[remote.wakeDescriptor]
        let signalRead = signalPipe.flatMap { registrations[$0[0]] }
        registrations = [:]
        registrations[remote.wakeDescriptor] = wake
        if let signalPipe, let signalRead { registrations[signalPipe[0]] = signalRead }
        timers = TimerQueue()
        mailboxes = [:]
    }

    // MARK: running

    /// Makes `run()` return after the current turn. (From another thread: `remote.stop()`.)
    public func stop() {
        stopRequested = true
    }

    public var isRunning: Bool { running }

    /// Turns until `stop()`: poll, call the handlers of ready fds, fire due timers.
    public func run() throws(PollLoopError) {
        guard !running else { throw .alreadyRunning }
        running = true
        defer {
            running = false
            stopRequested = false
        }
        while !shouldStop() {
            try turn()
        }
    }

    private func shouldStop() -> Bool {
        // Take the remote request even when a local one is set, so it does not linger.
        let remoteStop = remote.takeStopRequest()
        return stopRequested || remoteStop
    }

    /// One poll and its dispatch.
    private func turn() throws(PollLoopError) {
        let watched = Array(registrations.values)
        var pollfds = watched.map { registration in
            pollfd(fd: registration.fd,
                   events: registration.interest.intersection([.readable, .writable]).rawValue,
                   revents: 0)
        }
        let ready = pollfds.withUnsafeMutableBufferPointer { buffer in
            poll(buffer.baseAddress, nfds_t(buffer.count), pollTimeoutMilliseconds())
        }
        if ready < 0 {
            let code = errno
            if code == EINTR { return }
            throw .system(operation: "poll", errno: code)
        }
        if ready > 0 {
            for (registration, entry) in zip(watched, pollfds) where entry.revents != 0 {
                // An earlier handler of this turn may have unregistered (or replaced) it.
                guard registrations[registration.fd] === registration else { continue }
                let events = PollEvents(rawValue: entry.revents)
                registration.handler(events)
                if events.contains(.invalid), registrations[registration.fd] === registration {
                    registrations[registration.fd] = nil
                }
                if stopRequested { return }
            }
        }
        fireDueTimers()
    }

    private func pollTimeoutMilliseconds() -> CInt {
        guard let deadline = timers.nextDeadline() else { return -1 }
        let now = MonotonicClock.nanoseconds()
        if deadline <= now { return 0 }
        // Round up: waking a little late is fine, waking early would spin until the deadline.
        let milliseconds = (deadline - now + 999_999) / 1_000_000
        return CInt(min(milliseconds, UInt64(CInt.max)))
    }

    private func fireDueTimers() {
        let now = MonotonicClock.nanoseconds()
        while !stopRequested, let action = timers.popDue(now: now) {
            action()
        }
    }
}
