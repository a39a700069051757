#if canImport(Glibc)
import Glibc
#endif
import IPC
import PollLoop

/// One child the supervisor keeps running: which role it is, its current process and control
/// channel, its health and its restart history.
final class ChildSlot {
    /// A worker or the acceptor silent this long is hung: killed and restarted (five missed
    /// heartbeats). Replacing one is cheap and gives its service back.
    static let heartbeatDeadline: Duration = .seconds(5)
    /// The peer manager holds every peer, and killing it drops them all, so it gets far longer:
    /// a VM pause, a swap storm or a long GC-like stall must not cost the peers. 30 s is
    /// go-ethereum's frameReadTimeout: its peers would time out on us by then anyway.
    static let peerManagerHeartbeatDeadline: Duration = .seconds(30)
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
    /// Whether the log already said this (peer manager) process is stopped, not hung.
    var stoppedReported = false
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

    /// How long this child may be silent before it is judged hung.
    var deadline: Duration { role == .peerManager ? Self.peerManagerHeartbeatDeadline : Self.heartbeatDeadline }

    /// Running, ready, heard from recently (within a worker's deadline, whatever the role: a
    /// silent peer manager is not healthy even while it is given time), and (a worker) wired
    /// to both its neighbours.
    func isHealthy(now: ContinuousClock.Instant) -> Bool {
        isRunning && ready && now - lastHeartbeat < Self.heartbeatDeadline && isWired
    }

    /// Whether the process is stopped (SIGSTOP, SIGTSTP, a debugger): silent but not hung.
    /// /proc/PID/stat's state is T (stopped) or t (traced).
    var isStopped: Bool {
        guard isRunning, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].dropFirst().first
        return state == "T" || state == "t"
    }

    /// Whether every channel this child needs is up. Only workers report lost channels: every
    /// channel has a worker at one end, and that end sees any break (end of file).
    var isWired: Bool { role != .worker || linkedRoles.isSuperset(of: Self.workerNeighbours) }

    /// A fresh process: no channels yet.
    func resetLinks() {
        attachmentsSent = [:]
        linkedRoles = []
    }

    /// Running but silent past its deadline. A stopped peer manager is not hung: it is waited
    /// for (it resumes with every peer; killing it would cost them all). A stopped worker or
    /// acceptor is replaced like a hung one: it holds no peers and its service comes back.
    func isHung(now: ContinuousClock.Instant) -> Bool {
        guard isRunning else { return false }
        let silent = ready ? now - lastHeartbeat >= deadline : now - startedAt >= Self.startDeadline
        return silent && !(role == .peerManager && isStopped)
    }
}
