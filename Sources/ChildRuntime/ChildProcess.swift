#if canImport(Glibc)
import Glibc
#endif
import CStockade
import Foundation
import IPC
import Logging
import PollLoop

/// What every child process shares: its control channel to the supervisor, the heartbeat that
/// proves it alive, and leaving when the supervisor goes away (no orphans). Each role's main
/// loop owns one and adds its own duties.
public final class ChildProcess {
    /// Heartbeat period. The supervisor declares a child hung after `ChildHealth.deadline`
    /// (several periods) without one.
    public static let heartbeatInterval: Duration = .seconds(1)

    public let role: IPCMessage.Role
    public let index: Int
    public let loop: PollLoop
    public let control: IPCChannel
    /// Counters sent with each heartbeat.
    public var counters: () -> [IPCMessage.Heartbeat.Counter] = { [] }
    /// Messages from the supervisor other than the ones handled here.
    public var onControlMessage: ((IPCReceivedFrame) -> Void)?
    /// Called on Shutdown; the default stops the loop at once.
    public var onShutdown: ((IPCMessage.Shutdown) -> Void)?

    public init(role: IPCMessage.Role, index: Int) throws {
        self.role = role
        self.index = index
        StockadeLog.bootstrap(process: Self.tag(role, index), level: StockadeLog.inheritedLevel)
        // Die with the supervisor; if it is already gone (we were spawned just before it died),
        // go now rather than run unsupervised.
        _ = stockade_set_parent_death_signal(SIGTERM)
        // Re-executed through /proc/self/exe, a child would show as "exe" in ps and the journal.
        _ = stockade_set_process_name(role == .worker ? "stockade-wrk\(index)" : role == .acceptor ? "stockade-acc" : "stockade-pm")
        if let expected = ProcessInfo.processInfo.environment[ChildDescriptors.parentPIDVariable].flatMap(Int32.init),
           getppid() != expected {
            Self.log(role, index, "supervisor is gone; exiting")
            exit(0)
        }
        signal(SIGPIPE, SIG_IGN)
        loop = try PollLoop()
        control = try IPCChannel(adopting: ChildDescriptors.control)
        try loop.attach(control)
        control.onFrame = { [unowned self] frame in self.handleControl(frame) }
        control.onFailure = { [unowned self] error in
            // The supervisor is gone or sent garbage: either way we are unsupervised. Leave.
            // Its end closing is how a stop ends for a straggler: not a fault.
            ChildProcess.log(self.role, self.index, "control channel \(Self.isOrderlyClose(error) ? "closed" : "broken (\(error))"); exiting",
                             level: Self.isOrderlyClose(error) ? .info : .error)
            self.control.close()
            self.loop.stop()
        }
        try loop.onSignal(SIGTERM) { [unowned self] in
            if let onShutdown = self.onShutdown { onShutdown(IPCMessage.Shutdown(disconnectReason: 0x08)) } else { self.loop.stop() }
        }
        loop.schedule(after: .zero, repeating: Self.heartbeatInterval) { [unowned self] in self.sendHeartbeat() }
    }

    /// Announces the child to the supervisor; call once the role is ready to work.
    public func announceReady() {
        try? control.send(.childReady(.init(role: role, index: UInt16(index), pid: UInt32(getpid()))))
    }

    public func sendHeartbeat() {
        try? control.send(.heartbeat(.init(counters: counters())))
    }

    private func handleControl(_ frame: IPCReceivedFrame) {
        if case .shutdown(let s) = frame.message {
            if let onShutdown { onShutdown(s) } else { loop.stop() }
            return
        }
        if let onControlMessage { onControlMessage(frame) } else { frame.descriptors.forEach { _ = Glibc.close($0) } }
    }

    /// The process's name in log lines.
    public static func tag(_ role: IPCMessage.Role, _ index: Int) -> String {
        role == .worker ? "worker[\(index)]" : role.argument
    }

    /// One line through the process's logger (StockadeLogHandler: stderr, journald under systemd).
    public static func log(_ role: IPCMessage.Role, _ index: Int, _ message: String, level: Logger.Level = .info) {
        StockadeLog.log(level, message)
    }

    public func log(_ message: String, level: Logger.Level = .info) { Self.log(role, index, message, level: level) }

    /// A channel's other end closed in order (its process exited or replaced the channel):
    /// expected during a stop or a neighbour's restart, unlike a bad frame.
    public static func isOrderlyClose(_ error: Error) -> Bool {
        (error as? IPCChannelError).map { $0 == .peerClosed || $0 == .closed } ?? false
    }

    /// A neighbour's channel failed: info when it closed in order, error when it broke.
    public func logChannelLoss(_ what: String, _ error: Error, then: String = "") {
        if Self.isOrderlyClose(error) {
            log("\(what) channel closed\(then)")
        } else {
            log("\(what) channel broken: \(error)\(then)", level: .error)
        }
    }
}
