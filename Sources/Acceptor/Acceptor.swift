#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import CStockade
import IPC
import NodeConfig
import PollLoop
import Sockets

/// The acceptor process: takes connections off the listening socket(s) and hands each, with its
/// remote address, to the least-loaded live handshake worker. It holds no keys and reads no
/// peer bytes. At most `maxPending` connections are in handshakes at once (go-ethereum's
/// MaxPendingPeers); when that is reached, or no worker is live, it stops accepting, so new
/// connections wait in the kernel's backlog instead of being dropped.
public final class Acceptor {
    private let child: ChildProcess
    private let listeners: [Int32]
    private var settings: AcceptorSettings?
    private var admission = InboundAdmission()
    private var workers = WorkerRoster()
    private var accepting = false
    private var nextConnection: UInt64 = 0
    private var stats = (accepted: UInt64(0), refused: UInt64(0), handedOff: UInt64(0), failed: UInt64(0))
    /// Sources in flight on a worker whose channel broke, by worker index, until the
    /// supervisor's WorkerExited says whether it crashed (only a crash counts against them).
    private var orphanedSources: [Int: [String]] = [:]
    /// WorkerExited verdicts that arrived before the worker's channel was seen to break.
    private var exitVerdicts: [Int: Bool] = [:]

    /// - Parameter listenerCount: listening sockets inherited at fds 4, 5, …
    public init(listenerCount: Int) throws {
        child = try ChildProcess(role: .acceptor, index: 0)
        listeners = (0..<listenerCount).map { ChildDescriptors.firstListener + Int32($0) }
        // Connection ids are unique across acceptor restarts: this process's pid in the high bits.
        nextConnection = UInt64(UInt32(getpid())) << 32
        child.onControlMessage = { [unowned self] frame in self.handleControl(frame) }
        child.counters = { [unowned self] in
            // Freed slots are read lazily (see drainWorkers): count them before reporting.
            drainWorkers()
            return [.init(name: "accepted_total", value: stats.accepted),
             .init(name: "refused_total", value: stats.refused),
             .init(name: "pending", value: UInt64(workers.pendingTotal)),
             .init(name: "workers_live", value: UInt64(workers.count))]
        }
    }

    /// The acceptor's main loop: accept while there is room, route, count freed slots.
    public func run() throws {
        for fd in listeners {
            TCPSocket.setNonBlocking(fd)
            // Accepted sockets inherit TCP_NODELAY from their listener on Linux, so setting it
            // here once spares every handshake worker a setsockopt per connection.
            TCPSocket.setNoDelay(fd)
        }
        child.announceReady()
        try child.loop.run()
    }

    // MARK: control

    private func handleControl(_ frame: IPCReceivedFrame) {
        switch frame.message {
        case .configure(let c):
            do {
                let s = try RoleSettingsCoding.decode(AcceptorSettings.self, from: c.json)
                if settings == nil { child.log(Sandbox.enter(denyFileAccess: true)) }
                if settings == nil { admission = InboundAdmission(settings: s) } else { admission.apply(s) }
                settings = s
                updateAccepting()
            } catch {
                child.log("bad Configure from supervisor: \(error)", level: .error)
            }
        case .attachChannel(let a) where a.neighbourRole == .worker && frame.descriptors.count == 1:
            attachWorker(index: Int(a.neighbourIndex), fd: frame.descriptors[0])
        case .workerExited(let e):
            workerExited(index: Int(e.index), crashed: e.crashed)
        default:
            frame.descriptors.forEach { _ = close($0) }
            child.log("unexpected control message \(frame.message.type)", level: .error)
        }
    }

    private func attachWorker(index: Int, fd: Int32) {
        if let old = workers.remove(index: index) { workerLost(old) }
        // A verdict on a predecessor that was never attached here has no sources to judge,
        // and must not be taken for this worker's.
        exitVerdicts[index] = nil
        let channel: IPCChannel
        do {
            channel = try IPCChannel(adopting: fd, accepting: [.handshakeSlotFreed])
            try child.loop.register(fd: channel.fileDescriptor, interest: workerInterest(channel)) { [unowned channel] events in
                channel.handleReadiness(readable: events.allowsRead, writable: events.contains(.writable))
            }
        } catch {
            child.log("cannot attach worker \(index): \(error)")
            return
        }
        channel.onWriteInterestChange = { [unowned self, unowned channel] _ in
            child.loop.setInterest(workerInterest(channel), for: channel.fileDescriptor)
        }
        channel.onClose = { [unowned self, unowned channel] in child.loop.unregister(fd: channel.fileDescriptor) }
        channel.onFrame = { [unowned self] frame in
            if case .handshakeSlotFreed(let freed) = frame.message {
                let source = workers.release(connectionID: freed.connectionID, worker: index)
                switch freed.outcome {
                case .handedOff: stats.handedOff += 1
                case .failed: stats.failed += 1
                case .protocolViolation:
                    stats.failed += 1
                    if let ip = source?.ip { admission.failed(ip, offence: .protocolViolation, now: .now) }
                case .timedOut:
                    stats.failed += 1
                    if let ip = source?.ip { admission.failed(ip, offence: .timeout, now: .now) }
                }
                updateAccepting()
            }
        }
        channel.onFailure = { [unowned self, unowned channel] error in
            // A broken worker: its handshakes died with it; stop routing to it until the
            // supervisor attaches its successor.
            child.logChannelLoss("worker \(index)", error)
            if workers.channel(index: index) === channel, let lost = workers.remove(index: index) { workerLost(lost) }
            channel.close()
            updateAccepting()
        }
        workers.add(index: index, channel: channel)
        updateAccepting()
    }

    /// A worker went away with its handshakes: their slots are free, and their sources wait
    /// for the supervisor's word on how it died (WorkerExited; either may come first).
    private func workerLost(_ worker: WorkerRoster.Worker) {
        worker.channel.close()
        let sources = worker.pending.values.map(\.ip)
        if let crashed = exitVerdicts.removeValue(forKey: worker.index) {
            judge(sources, crashed: crashed)
        } else {
            orphanedSources[worker.index] = sources
        }
    }

    private func workerExited(index: Int, crashed: Bool) {
        if let sources = orphanedSources.removeValue(forKey: index) {
            judge(sources, crashed: crashed)
        } else {
            exitVerdicts[index] = crashed
        }
    }

    /// Only a real crash (a fault signal or abort) counts against the sources in flight, as
    /// OpenSSH's PerSourcePenalties counts crashes of the child that served a source: a kill by
    /// the operator, the OOM killer or the supervisor says nothing about them (a source present
    /// at repeated crashes is penalised).
    private func judge(_ sources: [String], crashed: Bool) {
        guard crashed else { return }
        for ip in sources { admission.inFlightOnWorkerDeath(ip, now: .now) }
    }

    // MARK: freed slots

    /// What the loop watches a worker's channel for. A worker's HandshakeSlotFreed frames matter
    /// only to the admission of the next connection, so while the acceptor is accepting they
    /// wait in the socket and are read when a connection arrives (drainWorkers), sparing the
    /// acceptor a wake-up per connection (ops/bench/daemon.sh: its CPU per connection fell from
    /// about 60 to 46 µs). When it is not accepting (every slot taken), a freed slot is what it
    /// waits for, so it watches for them. A worker's exit is seen at once either way: poll
    /// reports a hang-up whatever the interest.
    private func workerInterest(_ channel: IPCChannel) -> PollEvents {
        var interest: PollEvents = accepting ? [] : .readable
        if channel.wantsWritable { interest.insert(.writable) }
        return interest
    }

    /// Reads every frame the workers have sent (freed slots and their outcomes, penalties).
    private func drainWorkers() {
        for channel in workers.channels { channel.handleReadiness(readable: true, writable: false) }
    }

    // MARK: accepting

    /// Watches the listeners only while a connection could be routed now.
    private func updateAccepting() {
        let want = settings != nil && !workers.isEmpty && workers.pendingTotal < (settings?.maxPending ?? 0)
        guard want != accepting else { return }
        accepting = want
        for fd in listeners {
            if want {
                try? child.loop.register(fd: fd, interest: .readable) { [unowned self] _ in self.acceptReady(fd) }
            } else {
                child.loop.unregister(fd: fd)
            }
        }
        for channel in workers.channels where !channel.isClosed {
            child.loop.setInterest(workerInterest(channel), for: channel.fileDescriptor)
        }
    }

    private func acceptReady(_ listener: Int32) {
        guard let maxPending = settings?.maxPending else { return }
        // Slots freed since the last connection, and the outcomes that penalise their sources,
        // are counted before this connection is admitted.
        drainWorkers()
        guard accepting else { return }
        // Bounded per wake-up so one busy listener cannot starve the loop's other duties.
        for _ in 0..<64 {
            guard workers.pendingTotal < maxPending, let worker = workers.leastLoaded() else { break }
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { stockade_accept_nonblocking(listener, $0, &len) }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { child.log("accept: \(String(cString: strerror(errno)))") }
                break
            }
            guard let remote = SocketAddress(storage: storage) else { close(fd); continue }
            stats.accepted += 1
            // Formatted once: inet_ntop goes through sprintf.
            let ip = remote.ipString
            let network = StartupLimits.network(of: ip)
            if let reason = admission.refusal(for: ip, untrustedPending: workers.untrustedPending,
                                              pendingInNetwork: network.map(workers.untrustedPending(inNetwork:)) ?? 0,
                                              maxPending: maxPending, roll: Double.random(in: 0..<1), now: .now) {
                stats.refused += 1
                child.log("refused \(remote): \(reason)", level: .debug)
                close(fd)
                continue
            }
            nextConnection += 1
            let id = nextConnection
            do {
                try worker.channel.send(.inboundConnection(.init(connectionID: id, remoteAddress: ip,
                                                                 remotePort: remote.port)), transferring: [fd])
                workers.assign(connectionID: id, worker: worker.index,
                               .init(ip: ip, trusted: admission.isTrusted(ip), network: network))
            } catch {
                child.log("cannot hand \(remote) to worker \(worker.index): \(error)", level: .debug)
            }
        }
        updateAccepting()
    }
}
