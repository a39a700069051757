#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import Control
import Enode
import Foundation
import IPC
import Logging
import NodeConfig
import PollLoop
import Secp256k1
import Sockets
import CStockade
import Systemd

/// The supervisor: the service's main process. It reads the config and the node key, takes the
/// listening sockets from systemd or binds them, spawns and wires every child, restarts a dead
/// or hung child with backoff (re-wiring it to its neighbours), relays health to systemd
/// (READY, STATUS, WATCHDOG, STOPPING), and on SIGTERM has every peer told Quitting before the
/// children exit. It never reads peer traffic.
public final class Supervisor {
    /// How long a stop may take before the stragglers are killed (inside TimeoutStopSec=15).
    static let stopDeadline: Duration = .seconds(8)

    private var config: NodeConfig
    private let configPath: String?
    /// The command line's settings as TOML, applied over the file again on every reload (as at
    /// start: defaults, then the file, then flags), so a reload never undoes a flag.
    private let commandLineOverrides: String
    private let loop: PollLoop
    private let notifier = ServiceNotifier()
    private let nodeKey: PrivateKey
    private let listeners: [Int32]
    /// Entry listeners systemd handed in (socket activation): kept for the supervisor's
    /// lifetime, a dup of each sent to every peer manager it starts (EntryListener).
    private let entrySockets: [EntrySockets.Entry]
    private let listenAddress: SocketAddress?
    private var slots: [ChildSlot] = []
    private var announcedReady = false
    private var stopping = false
    private var exitCode: Int32 = 0
    private var lastHandshakes: UInt64 = 0
    private var handshakesPerSecond: UInt64 = 0
    private let startedAt = ContinuousClock.now
    private var enodeURL = ""
    private var controlServer: ControlServer?
    private let metrics = NodeMetrics()
    private var metricsEndpoint: MetricsEndpoint?
    /// Peers the peer manager reported added and not yet dropped, by node id: when it dies
    /// they are gone with it, and each still gets its one peer-dropped event from here.
    private var livePeers: [[UInt8]: IPCMessage.PeerEvent] = [:]
    /// Control commands forwarded to the peer manager, by request id.
    /// Control requests the peer manager has yet to answer: each gets the reply's JSON or,
    /// when there is none (not sent, timed out), the failure to report.
    private var pendingControl: [UInt32: (PeerManagerAnswer) -> Void] = [:]
    /// add-peer, remove-peer, trust and untrust that succeeded, latest per node and list.
    private var runtimeListEdits: [ControlRequest] = []
    private var nextControlRequest: UInt32 = 0
    /// The periodic info summary that stands for the per-connection debug lines.
    private var summary = LogSummary()
    private var summaryStarted = ContinuousClock.now
    /// How long a forwarded command may wait for the peer manager's answer.
    static let controlTimeout: Duration = .seconds(5)

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Held for the supervisor's lifetime (close-on-exec, so no child keeps them): an flock on
    /// <state_dir>/LOCK, as go-ethereum locks its datadir, and one on an explicit key file.
    private let stateLock: Int32
    private let keyLock: Int32?

    /// Takes an exclusive flock on `path` without waiting; a second daemon gets a clear error
    /// naming the holder (the pid written into the state directory's lock file). The lock dies
    /// with the process, so a crashed daemon never leaves a stale one.
    static func lock(_ path: String, what: String, create: Bool = true) throws -> Int32 {
        let fd = create ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StartupError(description: "\(what): cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            var holder = ""
            if create {
                var buffer = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &buffer, buffer.count, 0)
                if n > 0, let pid = Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                    holder = " (pid \(pid))"
                }
            }
            close(fd)
            if e == EWOULDBLOCK {
                throw StartupError(description: "\(what) is in use by another running stockade\(holder); refusing to start a second node with it")
            }
            throw StartupError(description: "\(what): flock \(path): \(String(cString: strerror(e)))")
        }
        if create {
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = pwrite(fd, text, text.count, 0)
        }
        return fd
    }

    /// Prepares the node: state directory, node key, listening sockets. Prints the enode URL.
    public init(config: NodeConfig, configPath: String?, commandLineOverrides: String = "") throws {
        self.config = config
        self.configPath = configPath
        self.commandLineOverrides = commandLineOverrides
        // A closed stdio fd must not be taken by a socket opened below (see sanitise).
        StandardStreams.sanitise()
        signal(SIGPIPE, SIG_IGN)
        // systemd's sockets first (they must be claimed before anything else opens fds).
        let inherited = ListenSockets.takeFromSystemd().filter { ListenSockets.isListeningTCP($0.fd) }
        do {
            try FileManager.default.createDirectory(atPath: config.node.stateDir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StartupError(description: "cannot create state directory \(config.node.stateDir): \(error.localizedDescription)")
        }
        stateLock = try Self.lock(config.node.stateDir + "/LOCK", what: "state directory \(config.node.stateDir)")
        let loaded: LoadedNodeKey
        do {
            // Only the default key in the state directory is created on first run. A key file
            // named explicitly must exist, as go-ethereum's --nodekey: a mistyped path would
            // otherwise silently give the node a new identity.
            loaded = config.node.keyFile.isEmpty
                ? try NodeKeyFile.loadOrGenerate(path: config.resolvedKeyFile)
                : try NodeKeyFile.load(path: config.resolvedKeyFile)
        } catch {
            let hint = config.node.keyFile.isEmpty ? "" : " (a key file given with --key or node.key_file must exist; create one with `stockade keygen --out \(config.resolvedKeyFile)`)"
            throw StartupError(description: "\(error)\(hint)")
        }
        nodeKey = loaded.key
        // A key file outside the state directory could still be shared by two nodes with two
        // state directories: one identity on two nodes. Hold it too (read-only, never written).
        keyLock = config.node.keyFile.isEmpty ? nil
            : try Self.lock(config.resolvedKeyFile, what: "node key \(config.resolvedKeyFile)", create: false)
        if loaded.isWorldReadable {
            StockadeLog.log(.warning, "node key \(config.resolvedKeyFile) is readable by other users (chmod 600 it)")
        }
        let assigned = EntrySockets.assign(inherited.map { .init(fd: $0.fd, name: $0.name, address: SocketAddress.local(of: $0.fd)) },
                                           socks5: config.socks5, forwards: config.forwards)
        for (fd, why) in assigned.unmatched {
            StandardStreams.log("stockade supervisor: warning: \(why); not served")
            close(fd)
        }
        entrySockets = assigned.entries
        var fds = assigned.devp2p
        if fds.isEmpty {
            for text in config.node.listen {
                guard let hp = HostPort.parse(text), let address = SocketAddress(ip: hp.ip, port: hp.port) else {
                    throw StartupError(description: "bad listen address \(text)")
                }
                do { fds.append(try TCPSocket.listen(on: address)) } catch {
                    throw StartupError(description: "cannot listen on \(text): \(error)")
                }
            }
        }
        listeners = fds
        listenAddress = fds.first.flatMap(SocketAddress.local(of:))
        loop = try PollLoop()

        let id = NodeID(publicKey: nodeKey.publicKey)
        log("node \(id.hex.prefix(16))… key \(config.resolvedKeyFile)\(loaded.generated ? " (created)" : ""), "
            + "\(assigned.devp2p.isEmpty ? "listening" : "socket-activated") on \(listeners.compactMap(SocketAddress.local(of:)).map(\.description).joined(separator: ", "))"
            + entrySockets.map { "; socket-activated \($0.kind == .socks5 ? "SOCKS5 entry" : "forward") on \($0.listen)" }.joined())
        // A wildcard listener is reachable on loopback; print an address a local client can dial.
        let shownIP = listenAddress.map { ["0.0.0.0", "::"].contains($0.ipString) ? ($0.family == AF_INET ? "127.0.0.1" : "::1") : $0.ipString }
        let url = EnodeURL(nodeID: id, ip: shownIP.flatMap(IPAddress.init), tcpPort: listenAddress?.port ?? 0)
        enodeURL = url.description
        StandardStreams.write("\(url)\n", to: STDOUT_FILENO)
    }

    /// Runs until stopped; returns the process exit code.
    public func run() throws -> Int32 {
        try loop.onSignal(SIGCHLD) { [unowned self] in reapChildren() }
        try loop.onSignal(SIGTERM) { [unowned self] in stop(reason: "SIGTERM") }
        try loop.onSignal(SIGINT) { [unowned self] in stop(reason: "SIGINT") }
        try loop.onSignal(SIGHUP) { [unowned self] in reload() }

        try startControlAndMetrics()
        let workers = config.resolvedWorkerCount(cores: ProcessInfo.processInfo.activeProcessorCount)
        slots = [ChildSlot(role: .peerManager, index: 0)]
            + (0..<workers).map { ChildSlot(role: .worker, index: $0) }
            + [ChildSlot(role: .acceptor, index: 0)]
        for slot in slots { start(slot) }

        loop.schedule(after: .seconds(1), repeating: .seconds(1)) { [unowned self] in checkHealth() }
        let summaryEvery = ProcessInfo.processInfo.environment["STOCKADE_LOG_SUMMARY_MS"].flatMap(Int64.init).map { Duration.milliseconds($0) }
            ?? LogSummary.defaultInterval
        loop.schedule(after: summaryEvery, repeating: summaryEvery) { [unowned self] in logSummary() }
        if let interval = notifier.watchdogInterval {
            loop.schedule(after: .zero, repeating: interval / 2) { [unowned self] in watchdog() }
        }
        try loop.run()
        return exitCode
    }

    // MARK: children

    private func start(_ slot: ChildSlot) {
        slot.restartTimer = nil
        let pair: (CInt, CInt)
        do { pair = try IPCChannel.makeSocketPair() } catch {
            log("cannot create control channel for \(slot.name): \(error)", level: .error)
            scheduleRestart(slot)
            return
        }
        var fds = [pair.1]
        var extra: [String] = []
        if slot.role == .acceptor {
            fds += listeners
            extra = ["--listeners", String(listeners.count)]
        }
        do {
            slot.pid = try ChildSpawner.spawn(role: slot.role, index: slot.index, fds: fds, extraArguments: extra)
        } catch {
            close(pair.0)
            close(pair.1)
            log("cannot start \(slot.name): \(error)", level: .error)
            scheduleRestart(slot)
            return
        }
        close(pair.1)
        slot.resetLinks()
        slot.startedAt = .now
        slot.lastHeartbeat = .now
        slot.ready = false
        let channel: IPCChannel
        do {
            let endpoint: IPCEndpoint = slot.role == .peerManager ? .peerManager : slot.role == .worker ? .worker : .acceptor
            channel = try IPCChannel(adopting: pair.0, accepting: IPCMessageType.types(from: endpoint, to: .supervisor))
            try loop.attach(channel)
        } catch {
            log("cannot attach \(slot.name): \(error)", level: .error)
            kill(slot.pid, SIGKILL)
            return
        }
        slot.control = channel
        channel.onFrame = { [unowned self, unowned slot] frame in handle(frame, from: slot) }
        channel.onFailure = { [unowned self, unowned slot, unowned channel] error in
            channel.close()
            if slot.control === channel { slot.control = nil }
            // While stopping, children closing their channels is the expected end, not a fault.
            guard !stopping else { return }
            // A child that sends a malformed frame is broken: kill it, the restart follows.
            log("\(slot.name) control channel broken: \(error); killing it", level: .error)
            if slot.isRunning { kill(slot.pid, SIGKILL) }
        }
        if slot.role == .peerManager { handEntrySockets(to: channel) }
        configure(slot)
        wire(slot)
    }

    /// Sends every socket-activated entry listener to a (re)started peer manager, before its
    /// Configure, so it listens on them rather than binding the configured addresses. A dup
    /// goes (the channel closes what it sends); the supervisor's own copy stays open, so the
    /// listeners, and the connections waiting in their backlogs, outlive the peer manager.
    private func handEntrySockets(to channel: IPCChannel) {
        for e in entrySockets {
            let copy = fcntl(e.fd, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                log("cannot dup the \(e.kind) listener \(e.listen): \(String(cString: strerror(errno)))")
                continue
            }
            do { try channel.send(.entryListener(.init(kind: e.kind, listen: e.listen)), transferring: [copy]) } catch {
                log("cannot hand the \(e.kind) listener \(e.listen) to the peer manager: \(error)")
            }
        }
    }

    private func configure(_ slot: ChildSlot) {
        let json: String
        switch slot.role {
        case .acceptor:
            let trustedIPs = config.peers.trusted.compactMap { try? EnodeURL(parsing: $0).ip?.description }
            json = RoleSettingsCoding.encode(AcceptorSettings(config: config, trustedAddresses: trustedIPs))
        case .worker:
            json = RoleSettingsCoding.encode(WorkerSettings(
                nodeKeyHex: Hex.encode(nodeKey.bytes), clientName: config.node.name,
                listenPort: Int(listenAddress?.port ?? 0), handshakeTimeoutMs: config.workers.handshakeTimeoutMs,
                dialTimeoutMs: config.timeouts.dialTimeoutMs, firstBytesTimeoutMs: config.workers.firstBytesTimeoutMs))
        case .peerManager:
            json = RoleSettingsCoding.encode(PeerManagerSettings(nodeIDHex: Hex.encode(nodeKey.publicKey.raw64), config: config))
        }
        try? slot.control?.send(.configure(.init(json: json)))
    }

    /// Gives a (re)started child fresh socketpairs to each running neighbour.
    private func wire(_ slot: ChildSlot) {
        switch slot.role {
        case .worker:
            for other in slots where other.role != .worker && other.control != nil { link(slot, other) }
        case .acceptor, .peerManager:
            for other in slots where other.role == .worker && other.control != nil { link(other, slot) }
        }
    }

    private func link(_ worker: ChildSlot, _ other: ChildSlot) {
        guard let a = worker.control, let b = other.control else { return }
        do {
            let (wEnd, oEnd) = try IPCChannel.makeSocketPair()
            try a.send(.attachChannel(.init(neighbourRole: other.role, neighbourIndex: 0)), transferring: [wEnd])
            worker.attachmentsSent[other.role, default: 0] &+= 1
            try b.send(.attachChannel(.init(neighbourRole: .worker, neighbourIndex: UInt16(worker.index))), transferring: [oEnd])
            worker.linkedRoles.insert(other.role)
        } catch {
            log("cannot link \(worker.name) and \(other.name): \(error)", level: .error)
        }
    }

    private func handle(_ frame: IPCReceivedFrame, from slot: ChildSlot) {
        frame.descriptors.forEach { _ = close($0) }   // no child sends fds on its control channel
        switch frame.message {
        case .childReady:
            slot.ready = true
            slot.lastHeartbeat = .now
            if !announcedReady && slots.allSatisfy(\.ready) {
                announcedReady = true
                notifier.ready(status: statusLine())
                log("ready: \(slots.count) children up")
            }
        case .heartbeat(let h):
            // An empty heartbeat means the child's own loop is stalled (the peer manager's
            // run loop); only a full one proves health.
            guard !h.counters.isEmpty || slot.role != .peerManager else { return }
            slot.lastHeartbeat = .now
            slot.stoppedReported = false
            for c in h.counters { slot.counters[c.name] = c.value }
            metrics.heartbeat(slot: slot.name, role: slot.role.argument, counters: slot.counters)
        case .peerEvent(let e):
            let added = livePeers[e.nodeID]
            switch e.kind {
            case .added: livePeers[e.nodeID] = e
            case .dropped: livePeers[e.nodeID] = nil
            case .handshakeFailed, .sessionDenied: break
            }
            logEvent(e, added: added)
            publish(e)
        case .channelLost(let lost) where slot.role == .worker:
            channelLost(lost, by: slot)
        case .controlReply(let r):
            guard let reply = pendingControl.removeValue(forKey: frame.requestID) else { return }
            reply(.json(r.json))
        default:
            break
        }
    }

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            guard let slot = slots.first(where: { $0.pid == pid }) else { continue }
            slot.pid = 0
            slot.ready = false
            slot.control?.close()
            slot.control = nil
            let how = Self.describe(status: status)
            if slot.role == .peerManager { peerManagerLostPeers(how) }
            if stopping {
                if slots.allSatisfy({ !$0.isRunning }) { loop.stop() }
                continue
            }
            log("\(slot.name) (pid \(pid)) \(how)", level: Self.isCrash(status: status) ? .error : .warning)
            if slot.role == .worker, let acceptor = slots.first(where: { $0.role == .acceptor }) {
                try? acceptor.control?.send(.workerExited(.init(index: UInt16(slot.index), crashed: Self.isCrash(status: status))))
            }
            switch slot.policy.childDied(startedAt: slot.startedAt, now: .now) {
            case .restart(let wait):
                slot.restarts += 1
                metrics.restarted(role: slot.role.argument)
                slot.restartTimer = loop.schedule(after: wait) { [unowned self, unowned slot] in start(slot) }
                noteCrashLoop(slot)
            case .giveUp(let deaths):
                log("\(slot.name) died \(deaths) times within \(RestartPolicy.crashLoopWindow); giving up", level: .critical)
                exitCode = 1
                stop(reason: "crash loop of \(slot.name)")
            }
        }
    }

    /// The peer manager died with its peers (their sockets closed with it): every peer it
    /// reported added and not dropped gets its peer-dropped event now, so each added peer has
    /// exactly one, whatever the cause. devp2p's "network error" (0x01, the TCP subsystem) is
    /// what the peer saw, and the drop was ours (by local).
    private func peerManagerLostPeers(_ how: String) {
        let lost = livePeers.values.sorted { $0.nodeID.lexicographicallyPrecedes($1.nodeID) }
        livePeers.removeAll()
        for added in lost {
            let dropped = IPCMessage.PeerEvent(kind: .dropped, nodeID: added.nodeID, remoteAddress: added.remoteAddress,
                                               remotePort: added.remotePort, direction: added.direction,
                                               disconnectReason: Self.peerManagerLostReason,
                                               detail: "local: peer manager restarted (\(how))")
            logEvent(dropped, added: added)
            publish(dropped)
        }
    }

    /// devp2p's DiscNetworkError.
    static let peerManagerLostReason: UInt8 = 0x01

    /// How long a worker's report of a lost channel waits before the neighbour is judged alive.
    /// A dying neighbour's channels reach end of file a moment before its exit reaches us (the
    /// kernel closes a process's files before it signals the parent); its restart then re-wires
    /// the worker, so the worker must not be replaced for it.
    static let channelLossGrace: Duration = .milliseconds(300)

    /// A worker lost its channel to a neighbour. It is down from now on; if the neighbour is
    /// alive (it closed the channel on a bad frame, or the worker refused one of its frames) the
    /// worker is replaced, and its successor is wired to every neighbour as it starts.
    private func channelLost(_ lost: IPCMessage.ChannelLost, by slot: ChildSlot) {
        // A report about a channel that was replaced meanwhile says nothing about the current one.
        guard lost.attachment == slot.attachmentsSent[lost.neighbourRole] else { return }
        slot.linkedRoles.remove(lost.neighbourRole)
        guard let neighbour = slots.first(where: { $0.role == lost.neighbourRole }) else { return }
        // During a stop every channel closes: expected, not a fault.
        log("\(slot.name) (pid \(slot.pid)) lost its channel to the \(neighbour.name); counted down", level: stopping ? .debug : .warning)
        let workerPID = slot.pid, neighbourPID = neighbour.pid
        guard neighbourPID > 0 else { return }   // already dead: its restart re-wires us
        loop.schedule(after: Self.channelLossGrace) { [weak self, weak slot, weak neighbour] in
            guard let self, let slot, let neighbour, !stopping, slot.pid == workerPID, slot.pid > 0,
                  neighbour.pid == neighbourPID, !slot.linkedRoles.contains(lost.neighbourRole) else { return }
            log("\(slot.name) (pid \(workerPID)) is half-wired while the \(neighbour.name) runs; replacing it", level: .warning)
            kill(workerPID, SIGKILL)
        }
    }

    /// A worker or acceptor crash loop degrades the node (said in the log once, in STATUS and
    /// metrics while it lasts) but never ends it: the peers are kept.
    private func noteCrashLoop(_ slot: ChildSlot) {
        let now = ContinuousClock.now
        let looping = slot.policy.isCrashLooping(now: now)
        metrics.crashLooping(child: slot.name, looping)
        if looping && !slot.crashLoopReported {
            slot.crashLoopReported = true
            log(level: .error, "\(slot.name) is crash-looping (\(slot.policy.recentDeaths(now: now)) deaths within \(RestartPolicy.crashLoopWindow)); "
                + "respawning it with a backoff of at most \(RestartPolicy.serviceMaximumDelay), peers kept: degraded")
        } else if !looping && slot.crashLoopReported {
            slot.crashLoopReported = false
            log("\(slot.name) is no longer crash-looping")
        }
    }

    /// What is wrong with the node right now, for STATUS and `stockade status`.
    private func degradations(now: ContinuousClock.Instant) -> [String] {
        slots.compactMap { slot in
            if slot.policy.isCrashLooping(now: now) {
                return "\(slot.name) crash-looping (\(slot.policy.recentDeaths(now: now)) deaths in \(RestartPolicy.crashLoopWindow))"
            }
            guard announcedReady, !slot.isHealthy(now: now) else { return nil }
            if !slot.isRunning { return "\(slot.name) restarting" }
            return slot.stoppedReported ? "\(slot.name) stopped" : "\(slot.name) unhealthy"
        }
    }

    private func scheduleRestart(_ slot: ChildSlot) {
        guard !stopping else { return }
        slot.restartTimer = loop.schedule(after: RestartPolicy.maximumDelay) { [unowned self, unowned slot] in start(slot) }
    }

    // MARK: health

    /// How late the once-a-second health tick may run before the supervisor takes it that it
    /// was not running itself (stopped, a VM pause, a swap storm): it then heard nothing from
    /// anyone for reasons of its own, and gives every child a fresh deadline instead of
    /// killing them all for its own silence.
    static let ownStallLimit: Duration = .seconds(2)
    private var lastHealthCheck = ContinuousClock.now

    private func checkHealth() {
        let now = ContinuousClock.now
        let late = now - lastHealthCheck - .seconds(1)
        lastHealthCheck = now
        if late > Self.ownStallLimit {
            log("the supervisor itself did not run for \(late); every child gets a fresh deadline", level: .warning)
            for slot in slots where slot.isRunning {
                slot.lastHeartbeat = now
                if !slot.ready { slot.startedAt = now }
            }
        }
        for slot in slots where slot.isRunning && !stopping {
            if slot.isHung(now: now) {
                log("\(slot.name) (pid \(slot.pid)) silent for \(slot.ready ? slot.deadline : ChildSlot.startDeadline); killing it", level: .error)
                kill(slot.pid, SIGKILL)
            } else if slot.role == .peerManager, now - slot.lastHeartbeat >= ChildSlot.heartbeatDeadline, !slot.stoppedReported, slot.isStopped {
                slot.stoppedReported = true
                log("\(slot.name) (pid \(slot.pid)) is stopped (SIGSTOP?), not hung; waiting for it (its peers are kept)", level: .warning)
            }
        }
        let total = slots.filter { $0.role == .worker }.reduce(UInt64(0)) { $0 + ($1.counters["handshakes_ok_total"] ?? 0) }
        handshakesPerSecond = total >= lastHandshakes ? total - lastHandshakes : 0
        lastHandshakes = total
        for slot in slots where slot.crashLoopReported { noteCrashLoop(slot) }
        if announcedReady && !stopping { notifier.status(statusLine()) }
    }

    /// WATCHDOG=1 while this loop turns (it runs here) and no running child is past its
    /// deadline unhandled. A dead or restarting child does not stop it: the supervisor repairs
    /// those itself (a worker or acceptor crash loop is degraded, not fatal, and must not make
    /// systemd kill the service and every peer with it); the watchdog is for a supervisor that
    /// can no longer repair anything.
    private func watchdog() {
        let now = ContinuousClock.now
        guard !stopping, !slots.contains(where: { $0.isHung(now: now) }) else { return }
        notifier.watchdog()
    }

    /// The numbers STATUS= and `stockade status` both show.
    func nodeStatus() -> NodeStatus {
        let pm = slots.first { $0.role == .peerManager }?.counters ?? [:]
        let acceptor = slots.first { $0.role == .acceptor }?.counters ?? [:]
        let workers = slots.filter { $0.role == .worker }
        let up = workers.filter { $0.isHealthy(now: .now) }.count
        metrics.workers(up: up)
        return NodeStatus(enode: enodeURL, peersInbound: pm["peers_inbound"] ?? 0, peersOutbound: pm["peers_outbound"] ?? 0,
                          pendingHandshakes: acceptor["pending"] ?? 0, handshakesPerSecond: handshakesPerSecond,
                          workersUp: up, workersTotal: workers.count, restarts: slots.reduce(0) { $0 + $1.restarts },
                          // The peer manager's lists (run-time edits included); the config's until it reports.
                          staticNodes: pm["static_nodes"].map { Int($0) } ?? config.peers.static.count,
                          trustedNodes: pm["trusted_nodes"].map { Int($0) } ?? config.peers.trusted.count,
                          uptimeSeconds: Double((ContinuousClock.now - startedAt).components.seconds),
                          degraded: degradations(now: .now))
    }

    func statusLine() -> String { nodeStatus().line }

    // MARK: control socket and metrics

    private func startControlAndMetrics() throws {
        do {
            let server = try ControlServer(path: config.resolvedControlSocket, loop: loop)
            server.handler = { [unowned self] request, reply in control(request, reply: reply) }
            server.lineHandler = { [unowned self] request, reply in controlLine(request, reply: reply) }
            server.connectHandler = { [unowned self] request, fd, early in connect(request, fd: fd, earlyData: early) }
            controlServer = server
            log("control socket \(config.resolvedControlSocket)")
        } catch {
            // A socket asked for by name is part of how the operator runs the node: without it
            // READY would be a lie. The default one is a convenience, and only warned about;
            // but one that a live daemon answers means two nodes would share it: never.
            guard config.control.socket.isEmpty, !(error is ControlServer.InUse) else { throw StartupError(description: "\(error)") }
            log("no control socket: \(error)", level: .warning)
        }
        if !config.metrics.listen.isEmpty {
            guard let hp = HostPort.parse(config.metrics.listen), let address = SocketAddress(ip: hp.ip, port: hp.port) else { return }
            do {
                metricsEndpoint = try MetricsEndpoint(address: address, loop: loop) { [unowned self] in
                    _ = nodeStatus()
                    return metrics.exposition()
                }
                log("metrics on http://\(metricsEndpoint!.address)/metrics")
            } catch {
                log("no metrics endpoint on \(config.metrics.listen): \(error)", level: .warning)
            }
        }
    }

    /// `control`, answered as the reply line; listings are joined from the peer manager's pages
    /// as they come, without decoding and re-encoding their entries (issue 10).
    private func controlLine(_ request: ControlRequest, reply: @escaping ([UInt8]) -> Void) {
        switch request.command {
        case .peers: askPeerManagerListing(request, key: .peers, reply: reply)
        case .sessions: askPeerManagerListing(request, key: .sessions, reply: reply)
        default: control(request) { reply(ControlCoding.line($0)) }
        }
    }

    private func control(_ request: ControlRequest, reply: @escaping (ControlReply) -> Void) {
        switch request.command {
        case .status:
            reply(.success(ControlResult(status: nodeStatus())))
        case .enode:
            reply(.success(ControlResult(enode: enodeURL)))
        case .nodes:
            // The running config holds every run-time add-peer/remove-peer/trust/untrust
            // (listsChanged), so it is the list as it stands.
            var result = ControlResult()
            result.staticNodes = config.peers.static
            result.trustedNodes = config.peers.trusted
            reply(.success(result))
        case .events:
            reply(.success())
        case .connect:
            reply(.failure("connect is served with its connection"))   // ControlServer hands these over itself
        case .disconnect where request.reason.map(DisconnectReasonNames.isValid) == false:
            // Never put a byte on the wire that is no devp2p reason (nor collides with "none").
            reply(.failure("reason \(request.reason ?? 0) is not a devp2p disconnect reason (0x00-0x10)"))
        case .peers, .addPeer, .removePeer, .trust, .untrust, .disconnect, .sessions, .forwards, .forwardAdd, .forwardRemove:
            askPeerManager(request) { [weak self] answer in
                if answer.ok, let self { self.listsChanged(by: request) }
                reply(answer)
            }
        }
    }

    /// `stockade connect`: hands the client's connection to the peer manager, which opens the
    /// session and answers on it (ipc/PROTOCOL.md, ConnectStream). What the supervisor can
    /// already tell (peer manager down, arguments missing or over the bounds) it answers itself.
    private func connect(_ request: ControlRequest, fd: Int32, earlyData: [UInt8]) {
        func refuse(_ reply: ControlReply) {
            _ = ControlCoding.line(reply).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        guard let peer = request.peer, let target = request.target, !peer.isEmpty, !target.isEmpty else {
            return refuse(ControlReply(ok: false, error: "connect needs a peer and a target", usage: true))
        }
        guard peer.utf8.count <= IPCLimits.maxConnectArgumentLength, target.utf8.count <= IPCLimits.maxConnectArgumentLength else {
            return refuse(ControlReply(ok: false, error: "peer or target longer than \(IPCLimits.maxConnectArgumentLength) bytes", usage: true))
        }
        // The control server reads at most two 4 KiB chunks ahead, so this never trips; if it
        // did, dropping bytes of the session would corrupt it: refuse instead.
        guard earlyData.count <= IPCLimits.maxConnectEarlyDataLength else {
            return refuse(.failure("more than \(IPCLimits.maxConnectEarlyDataLength) bytes sent before the session opened"))
        }
        guard let pm = slots.first(where: { $0.role == .peerManager }), let channel = pm.control, pm.ready else {
            return refuse(.failure("the peer manager is not running (restarting?); try again"))
        }
        var pid: Int32 = 0, uid: UInt32 = 0
        _ = stockade_peer_pid(fd, &pid)
        _ = stockade_peer_uid(fd, &uid)
        let message = IPCMessage.connectStream(.init(peer: peer, target: target, origin: "connect pid \(pid) uid \(uid)",
                                                     earlyData: earlyData))
        // The channel owns the fd from here: it closes it once sent, or on failure, which the
        // client then sees as the daemon closing without a reply.
        do { try channel.send(message, transferring: [fd]) } catch {
            log("cannot hand a connect to the peer manager: \(error)")
        }
    }

    /// Sends `request` to the peer manager. Lists (peers, sessions) come back in pages that each
    /// fit an IPC reply; they are asked for one after another and joined (issue 9, fault 12).
    private func askPeerManager(_ request: ControlRequest, joined: ControlResult? = nil, reply: @escaping (ControlReply) -> Void) {
        sendToPeerManager(request) { [weak self] pmAnswer in
            let answer: ControlReply
            switch pmAnswer {
            case .failure(let message): return reply(.failure(message))
            case .json(let json):
                answer = (try? ControlCoding.decode(ControlReply.self, Array(json.utf8))) ?? .failure("unreadable reply from the peer manager")
            }
            guard answer.ok, var page = answer.result else { return reply(answer) }
            if let joined {
                page.peers = joined.peers.map { $0 + (page.peers ?? []) } ?? page.peers
                page.sessions = joined.sessions.map { $0 + (page.sessions ?? []) } ?? page.sessions
            }
            guard let next = page.next, let self else {
                page.next = nil
                return reply(.success(page))
            }
            var more = request
            more.offset = next
            self.askPeerManager(more, joined: page, reply: reply)
        }
    }

    /// A listing (peers, sessions) as the reply line, its pages asked for one after another
    /// and their entries spliced together as the peer manager encoded them (ControlListing): a
    /// listing of one page goes to the client as it came. What is no page (a refusal) is
    /// passed on as the reply it is.
    private func askPeerManagerListing(_ request: ControlRequest, key: ControlListing.Key, joined: [UInt8]? = nil,
                                       reply: @escaping ([UInt8]) -> Void) {
        sendToPeerManager(request) { [weak self] pmAnswer in
            let bytes: [UInt8]
            switch pmAnswer {
            case .failure(let message): return reply(ControlCoding.line(ControlReply.failure(message)))
            case .json(let json): bytes = Array(json.utf8)
            }
            guard let (head, items) = ControlListing.split(bytes, key: key) else {
                let answer = (try? ControlCoding.decode(ControlReply.self, bytes)) ?? .failure("unreadable reply from the peer manager")
                return reply(ControlCoding.line(answer))
            }
            let next = head.result?.next
            if joined == nil && next == nil { return reply(bytes + [0x0a]) }
            var all = joined ?? []
            if !items.isEmpty {
                if !all.isEmpty { all.append(0x2c) }
                all.append(contentsOf: items)
            }
            guard let next, let self else { return reply(ControlListing.reply(key, items: all[...]) + [0x0a]) }
            var more = request
            more.offset = next
            self.askPeerManagerListing(more, key: key, joined: all, reply: reply)
        }
    }

    private enum PeerManagerAnswer {
        case json(String)
        case failure(String)
    }

    /// Sends `request` to the peer manager; `answer` gets its reply, or why there is none.
    private func sendToPeerManager(_ request: ControlRequest, answer: @escaping (PeerManagerAnswer) -> Void) {
        guard let pm = slots.first(where: { $0.role == .peerManager }), let channel = pm.control, pm.ready else {
            answer(.failure("the peer manager is not running (restarting?); try again"))
            return
        }
        nextControlRequest &+= 1
        if nextControlRequest == 0 { nextControlRequest = 1 }
        let id = nextControlRequest
        let json = String(decoding: ControlCoding.line(request).dropLast(), as: UTF8.self)
        pendingControl[id] = answer
        do { try channel.send(.controlRequest(.init(json: json)), requestID: id) } catch {
            pendingControl[id] = nil
            answer(.failure("cannot reach the peer manager: \(error)"))
            return
        }
        loop.schedule(after: Self.controlTimeout) { [weak self] in
            self?.pendingControl.removeValue(forKey: id)?(.failure("the peer manager did not answer within \(Self.controlTimeout)"))
        }
    }

    /// A node trusted or untrusted at run time also gets (or loses) the acceptor's trusted
    /// handshake slots and throttle exemption, which go by its enode URL's address.
    /// Every run-time edit of the static and trusted lists is kept in the running config (so a
    /// restarted peer manager gets it) and replayed over a reloaded file (issue 9, fault 6).
    private func listsChanged(by request: ControlRequest) {
        guard [.addPeer, .removePeer, .trust, .untrust].contains(request.command), let text = request.enode,
              let url = try? EnodeURL(parsing: text) else { return }
        runtimeListEdits.removeAll { $0.enode.flatMap { try? EnodeURL(parsing: $0).nodeID } == url.nodeID
            && Self.sameList($0.command, request.command) }
        runtimeListEdits.append(request)
        Self.apply(request, to: &config)
        if request.command == .trust || request.command == .untrust,
           let acceptor = slots.first(where: { $0.role == .acceptor }) { configure(acceptor) }
    }

    private static func sameList(_ a: ControlRequest.Command, _ b: ControlRequest.Command) -> Bool {
        let statics: Set<ControlRequest.Command> = [.addPeer, .removePeer]
        return statics.contains(a) == statics.contains(b)
    }

    /// The keys a reload cannot apply (the sockets, the identity, the worker processes) whose
    /// value in the file differs from the running one, so the operator hears what waits.
    static func restartOnly(running: NodeConfig, file: NodeConfig) -> [String] {
        var keys: [String] = []
        if running.node.listen != file.node.listen { keys.append("node.listen") }
        if running.node.name != file.node.name { keys.append("node.name") }
        if running.node.stateDir != file.node.stateDir { keys.append("node.state_dir") }
        if running.node.keyFile != file.node.keyFile { keys.append("node.key_file") }
        if running.node.logLevel != file.node.logLevel { keys.append("node.log_level") }
        if running.node.linkThreads != file.node.linkThreads { keys.append("node.link_threads") }
        if running.workers != file.workers { keys.append("workers") }
        if running.control != file.control { keys.append("control.socket") }
        if running.metrics != file.metrics { keys.append("metrics.listen") }
        return keys
    }

    /// One run-time edit of the static or trusted list applied to `config`.
    static func apply(_ edit: ControlRequest, to config: inout NodeConfig) {
        guard let text = edit.enode, let url = try? EnodeURL(parsing: text) else { return }
        let others: ([String]) -> [String] = { $0.filter { (try? EnodeURL(parsing: $0).nodeID) != url.nodeID } }
        switch edit.command {
        case .addPeer: config.peers.static = others(config.peers.static) + [text]
        case .removePeer: config.peers.static = others(config.peers.static)
        case .trust: config.peers.trusted = others(config.peers.trusted) + [text]
        case .untrust: config.peers.trusted = others(config.peers.trusted)
        default: break
        }
    }

    private func publish(_ e: IPCMessage.PeerEvent) {
        let kind: String
        switch e.kind {
        case .added: kind = "peer-added"
        case .dropped: kind = "peer-dropped"
        case .handshakeFailed: kind = "handshake-failed"
        case .sessionDenied: kind = "session-denied"
        }
        let reasonName = e.disconnectReason.map { DisconnectReasonNames.name($0) }
        let by: String? = e.kind == .dropped ? (e.detail.hasPrefix("remote") ? "remote" : "local") : nil
        if e.kind == .dropped {
            metrics.peerDropped(reason: reasonName ?? "none", by: by ?? "local")
            summary.peerDropped(reason: reasonName ?? "none", by: by ?? "local")
        }
        if e.kind == .added { summary.peerAdded() }
        guard controlServer?.hasSubscribers == true else { return }
        controlServer?.publish(ControlEvent(
            event: kind, id: Hex.encode(e.nodeID), address: e.remoteAddress.isEmpty ? "" : "\(e.remoteAddress):\(e.remotePort)",
            direction: e.direction == .inbound ? "inbound" : "outbound", reason: reasonName, reasonCode: e.disconnectReason,
            by: by, detail: e.detail, time: Date().timeIntervalSince1970))
    }

    // MARK: stop and reload

    private func stop(reason: String) {
        guard !stopping else { return }
        stopping = true
        log("stopping (\(reason)): peers get Disconnect(quitting)")
        controlServer?.shutdown()
        metricsEndpoint?.shutdown()
        notifier.stopping(status: "stopping: \(reason)")
        for slot in slots { if let t = slot.restartTimer { loop.cancel(t) } }
        // The peer manager first, so every peer hears Quitting; the others then have nothing
        // in flight worth keeping.
        if let pm = slots.first(where: { $0.role == .peerManager && $0.isRunning }) {
            try? pm.control?.send(.shutdown(.init(disconnectReason: 0x08)))
        }
        for slot in slots where slot.role != .peerManager && slot.isRunning {
            try? slot.control?.send(.shutdown(.init(disconnectReason: 0x08)))
        }
        if slots.allSatisfy({ !$0.isRunning }) { loop.stop(); return }
        loop.schedule(after: Self.stopDeadline) { [unowned self] in
            for slot in slots where slot.isRunning {
                log("\(slot.name) (pid \(slot.pid)) did not exit in time; killing it", level: .warning)
                kill(slot.pid, SIGKILL)
            }
        }
    }

    /// SIGHUP: re-read the config file and apply what can change live; a bad file is refused
    /// and the running config kept.
    private func reload() {
        guard let configPath else {
            log("SIGHUP: no config file to reload (started without --config)")
            return
        }
        notifier.reloading()
        defer { notifier.ready(status: statusLine()) }
        let text: String
        do { text = try String(contentsOfFile: configPath, encoding: .utf8) } catch {
            log("reload refused: cannot read \(configPath): \(error.localizedDescription)", level: .error)
            return
        }
        var fresh: NodeConfig
        do {
            fresh = try NodeConfig.parse(text)
            if !commandLineOverrides.isEmpty { fresh = try NodeConfig.parse(commandLineOverrides, over: fresh) }
        } catch {
            log("reload refused, keeping the running config: \(error.issues.map(\.description).joined(separator: "; "))", level: .error)
            return
        }
        var applied = config
        applied.peers = fresh.peers
        for edit in runtimeListEdits { Self.apply(edit, to: &applied) }
        applied.timeouts = fresh.timeouts
        // Streams: exit rules, services, bounds, SOCKS5 and forwards all apply live (the peer
        // manager rebinds changed listeners; open sessions go on).
        applied.mux = fresh.mux
        applied.services = fresh.services
        applied.allow = fresh.allow
        applied.deny = fresh.deny
        applied.socks5 = fresh.socks5
        applied.forwards = fresh.forwards
        config = applied
        for slot in slots where slot.role != .worker { configure(slot) }
        let pending = Self.restartOnly(running: config, file: fresh)
        log("reloaded \(configPath): peers, timeouts and streams applied"
            + (pending.isEmpty ? "" : "; not applied until restart: \(pending.joined(separator: ", "))"))
    }

    // MARK: logging

    /// A peer event's line: who the peer is (node ID prefix, address, client name) and what
    /// happened. `added` is the peer's added event, whose detail is its client name. Failed
    /// handshakes are per connection: debug, counted in the periodic summary instead.
    private func logEvent(_ e: IPCMessage.PeerEvent, added: IPCMessage.PeerEvent?) {
        let id = Hex.encode(e.nodeID).prefix(16)
        let address = e.remoteAddress.isEmpty || e.remoteAddress == "0.0.0.0" ? "" : " \(e.remoteAddress):\(e.remotePort)"
        switch e.kind {
        case .added: log("peer added: \(id)… \(e.direction) \(e.remoteAddress):\(e.remotePort) \"\(e.detail)\"")
        case .dropped: log("peer dropped: \(id)… \(e.remoteAddress):\(e.remotePort) \(e.detail)\(added.map { " (client \"\($0.detail)\")" } ?? "")")
        case .handshakeFailed:
            log("handshake failed: \(id.isEmpty ? "?" : String(id))… \(e.detail) (\(e.direction)\(address))", level: .debug)
        // The peer manager logged the denial itself, with the rule.
        case .sessionDenied: break
        }
    }

    /// The info summary of the connections the debug lines told one by one.
    private func logSummary() {
        let now = ContinuousClock.now
        let seconds = Int((now - summaryStarted).components.seconds)
        summaryStarted = now
        if let line = summary.line(counters: metrics.takePeriod(), seconds: seconds) { log(line) }
        summary = LogSummary()
    }

    func log(_ message: String, level: Logger.Level = .info) { StockadeLog.log(level, message) }
    func log(level: Logger.Level, _ message: String) { StockadeLog.log(level, message) }

    /// Signals that mean the process itself faulted or aborted (a Swift runtime trap is
    /// SIGILL or SIGTRAP, a seccomp violation SIGSYS). SIGKILL and SIGTERM come from someone
    /// else: an operator, the OOM killer, or this supervisor replacing a hung child.
    static let crashSignals: Set<Int32> = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS]

    static func isCrash(status: Int32) -> Bool {
        let sig = status & 0x7f
        return sig != 0 && sig != 0x7f && crashSignals.contains(sig)
    }

    static func describe(status: Int32) -> String {
        let sig = status & 0x7f
        if sig == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "killed by signal \(sig)"
    }
}
