import CStockade
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The thread-safe face of a PollLoop: any thread may post work to the loop or stop it. Posted
/// work runs on the loop's thread, in posting order, at the loop's next turn; the loop is woken
/// through an eventfd.
///
/// A remote may outlive its loop (another thread may still hold it): it owns the eventfd, so the
/// fd number is never reused under it; work posted after the loop is gone never runs.
public final class PollLoopRemote: Sendable {
    enum Job: Sendable {
        case work(@Sendable () -> Void)
        case mail(mailbox: UInt64, payload: any Sendable)
    }

    private struct State: ~Copyable {
        var jobs: [Job] = []
        var stopRequested = false
    }

    /// eventfd: each post adds 1; the loop reads (and so resets) it before draining the jobs.
    let wakeDescriptor: CInt
    private let state = Mutex(State())

    init() throws(PollLoopError) {
        let fd = stockade_eventfd_nonblocking(0)
        guard fd >= 0 else { throw .system(operation: "eventfd", errno: errno) }
        wakeDescriptor = fd
    }

    deinit { close(wakeDescriptor) }

    /// Runs `work` on the loop's thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        post(.work(work))
    }

    /// Makes `run()` return after the current turn. Safe from any thread, and before `run()`
    /// (which then returns at once).
    public func stop() {
        state.withLock { $0.stopRequested = true }
        wake()
    }

    func post(_ job: Job) {
        state.withLock { $0.jobs.append(job) }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        // EAGAIN means the counter is already huge: the loop is awake anyway.
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Loop thread: resets the eventfd and takes every posted job.
    func takeJobs() -> [Job] {
        var counter: UInt64 = 0
        _ = read(wakeDescriptor, &counter, MemoryLayout<UInt64>.size)
        return state.withLock { state in
            let jobs = state.jobs
            state.jobs = []
            return jobs
        }
    }

    /// Loop thread: true (once) if a stop was requested.
    func takeStopRequest() -> Bool {
        state.withLock { state in
            let requested = state.stopRequested
            state.stopRequested = false
            return requested
        }
    }
}

/// A typed inbox on a PollLoop: other threads `post` Sendable values, and the handler given to
/// `PollLoop.makeMailbox` receives them on the loop's thread. Unlike `execute`, the handler is
/// created on the loop's thread and so may use the loop's own (non-Sendable) state.
public struct PollLoopMailbox<Message: Sendable>: Sendable {
    let remote: PollLoopRemote
    let id: UInt64

    public func post(_ message: Message) {
        remote.post(.mail(mailbox: id, payload: message))
    }
}
