#if canImport(Glibc)
import Glibc
#endif
import IPC
import PollLoop

/// One child the supervisor keeps running: which role it is, its current process and control
/// channel, its health and its restart history.
final class ChildSlot {
    /// A child silent this long is hung: killed and restarted (five missed heartbeats).
    static let heartbeatDeadline: Duration = .seconds(5)
    /// A child that has not said ChildReady this long after its start is hung too.
    static let startDeadline: Duration = .seconds(10)

    let role: IPCMessage.Role
    let index: Int
    var pid: pid_t = 0
    var control: IPCChannel?
    var startedAt: ContinuousClock.Instant = .now
    var lastHeartbeat: ContinuousClock.Instant = .now
    var ready = false
    var counters: [String: UInt64] = [:]
    var restarts = 0
    var policy = RestartPolicy()
    var restartTimer: PollLoopTimerID?

    init(role: IPCMessage.Role, index: Int) {
        self.role = role
        self.index = index
    }

    var name: String { role == .worker ? "worker[\(index)]" : role.argument }
    var isRunning: Bool { pid > 0 }

    /// Running, ready and heard from recently.
    func isHealthy(now: ContinuousClock.Instant) -> Bool {
        isRunning && ready && now - lastHeartbeat < Self.heartbeatDeadline
    }

    /// Running but silent past its deadline.
    func isHung(now: ContinuousClock.Instant) -> Bool {
        guard isRunning else { return false }
        return ready ? now - lastHeartbeat >= Self.heartbeatDeadline : now - startedAt >= Self.startDeadline
    }
}
