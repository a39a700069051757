/// Why a PollLoop call failed.
public enum PollLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, errno: Int32)
    /// The fd is negative.
    case invalidDescriptor(CInt)
    /// The fd already has a registration on this loop.
    case alreadyRegistered(CInt)
    /// The signal is already forwarded to a loop (signals are per process: one loop owns each).
    case signalAlreadyHandled(CInt)
    /// run() was called while the loop is running.
    case alreadyRunning

    public var description: String {
        switch self {
        case .system(let op, let code): return "poll loop: \(op) failed: errno \(code)"
        case .invalidDescriptor(let fd): return "poll loop: invalid fd \(fd)"
        case .alreadyRegistered(let fd): return "poll loop: fd \(fd) is already registered"
        case .signalAlreadyHandled(let s): return "poll loop: signal \(s) is already handled by a loop"
        case .alreadyRunning: return "poll loop: run() called while running"
        }
    }
}
