#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A plain POSIX thread running one closure. The load is blocking I/O with one connection per
/// thread, as a crowd of independent peers would be, so threads (not a run loop) are the model.
final class LoadThread {
    private var thread = pthread_t()
    private var joined = false

    /// Holds the closure across pthread_create's untyped argument.
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    /// Waits for the closure to return (every closure here polls a stop flag and bounds each
    /// blocking call with a deadline, so this wait is bounded too).
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    /// Lowers the calling thread's scheduling priority. On Linux the nice value is a per-thread
    /// attribute and setpriority(PRIO_PROCESS, 0, n) sets the calling thread's alone (see the
    /// BUGS section of setpriority(2)); raising it back would need privileges.
    static func lowerCurrentPriority(by nice: Int32) {
        guard nice > 0 else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
    }
}

/// A flag the driver raises to make every load thread finish its current step and return.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    var isRaised: Bool { raised.load(ordering: .acquiring) }
    func raise() { raised.store(true, ordering: .releasing) }
}

/// Sleeps until `deadline`, in naps of at most 50 ms.
func sleep(until deadline: ContinuousClock.Instant) {
    while ContinuousClock.now < deadline {
        let left = deadline - ContinuousClock.now
        let micros = min(50_000, max(1, Duration.seconds(left) * 1e6))
        usleep(useconds_t(micros))
    }
}
