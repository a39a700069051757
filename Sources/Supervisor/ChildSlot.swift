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
    var policy: RestartPolicy
    /// Whether the log already said this child is crash-looping (said once per episode).
    var crashLoopReported = false
    var restartTimer: PollLoopTimerID?
    /// AttachChannel frames sent to this process, per neighbour role (a worker's ChannelLost
    /// names the one that broke by this count).
    var attachmentsSent: [IPCMessage.Role: UInt32] = [:]
    /// The neighbours this process has a working channel to, as far as the supervisor knows:
    /// added when a channel is sent, removed when the worker reports it lost.
    var linkedRoles: Set<IPCMessage.Role> = []

    init(role: IPCMessage.Role, index: Int) {
        self.role = role
        self.index = index
        policy = role == .peerManager ? RestartPolicy() : .servicePolicy()
    }

    var name: String { role == .worker ? "worker[\(index)]" : role.argument }
    var isRunning: Bool { pid > 0 }

    /// A worker is only of use with a channel to the acceptor (its connections) and to the
    /// peer manager (its checks and handoffs).
    static let workerNeighbours: Set<IPCMessage.Role> = [.acceptor, .peerManager]

    /// Running, ready, heard from recently, and (a worker) wired to both its neighbours.
    func isHealthy(now: ContinuousClock.Instant) -> Bool {
        isRunning && ready && now - lastHeartbeat < Self.heartbeatDeadline && isWired
    }

    /// Whether every channel this child needs is up. Only workers report lost channels: every
    /// channel has a worker at one end, and that end sees any break (end of file).
    var isWired: Bool { role != .worker || linkedRoles.isSuperset(of: Self.workerNeighbours) }

    /// A fresh process: no channels yet.
    func resetLinks() {
        attachmentsSent = [:]
        linkedRoles = []
    }

    /// Running but silent past its deadline.
    func isHung(now: ContinuousClock.Instant) -> Bool {
        guard isRunning else { return false }
        return ready ? now - lastHeartbeat >= Self.heartbeatDeadline : now - startedAt >= Self.startDeadline
    }
}
