#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import Control
import DevP2P
import IPC
import NIOCore
import NIOPosix
import NodeConfig
import PollLoop

/// The peer manager process. Two threads with one job each: the IPC thread (a PollLoop) owns the
/// channels to the supervisor and the workers, reads them and passes every message to the run
/// loop; the run loop (`PeerRunLoop`, one SwiftNIO event loop) owns the peer set and the live
/// peers, and writes its own frames to the supervisor and the workers (`RunLoopSenders`).
public final class PeerManager {
    /// A heartbeat is only sent while the run loop has turned within this long, so a wedged
    /// run loop stops the heartbeats and the supervisor restarts us.
    static let runLoopStallLimit: Duration = .seconds(3)
    /// Failure reasons sent with a heartbeat (IPCLimits.maxCounters bounds the whole list).
    static let failureReasonCounters = 16

    private let child: ChildProcess
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let counters = PeerCounters()
    private let runLoop: PeerRunLoop
    /// The run loop's own writers; used only on its event loop.
    private let senders: RunLoopSenders
    private var workers: [Int: IPCChannel] = [:]
    /// Which wiring of each worker is current (a count of attachments), so a late report about
    /// an earlier wiring's writer leaves the current channel alone.
    private var workerAttachment: [Int: Int] = [:]
    private var attachments = 0
    private var stopping = false

    public init() throws {
        child = try ChildProcess(role: .peerManager, index: 0)
        // Every peer and every session is a socket: take the hard limit of descriptors (as
        // systemd's default LimitNOFILE=1024:524288 intends for programs that need many).
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 { child.log("cannot raise the descriptor limit to \(limit.rlim_max)", level: .warning) }
        }
        // The mailbox is created on the IPC thread; the run loop posts to it from its own.
        let mailboxHolder = MailboxHolder()
        let eventLoop = group.next()
        let senders = RunLoopSenders(eventLoop: eventLoop) { index, attachment, error in
            mailboxHolder.post(.workerWriterBroke(index, attachment: attachment, error))
        }
        self.senders = senders
        // Frames go out from the run loop's thread; only what the IPC thread acts on (`.finished`,
        // a broken writer) crosses to it.
        runLoop = PeerRunLoop(eventLoop: eventLoop, counters: counters) { out in
            switch out {
            case .toWorker(let index, let message, let requestID): senders.toWorker(index, message, requestID: requestID)
            case .toSupervisor(let message, let requestID): senders.toSupervisor(message, requestID: requestID)
            case .finished, .workerWriterBroke: mailboxHolder.post(out)
            }
        }
        let controlCopy = RunLoopSenders.duplicate(child.control.fileDescriptor)
        if controlCopy < 0 { throw IPCChannelError.system(operation: "fcntl(F_DUPFD_CLOEXEC)", errno: errno) }
        try eventLoop.submit { try senders.attachSupervisor(controlCopy) }.wait()
        let box = child.loop.makeMailbox { [unowned self] (out: Outgoing) in self.deliver(out) }
        mailboxHolder.mailbox = box
        child.onControlMessage = { [unowned self] frame in self.handleControl(frame) }
        child.onShutdown = { [unowned self] s in self.beginShutdown(DisconnectReason(rawValue: s.disconnectReason)) }
        child.counters = { [counters] in
            let s = counters.snapshot
            guard ContinuousClock.now - s.loopAlive < PeerManager.runLoopStallLimit else { return [] }
            return [.init(name: "peers_inbound", value: s.peersInbound),
                    .init(name: "peers_outbound", value: s.peersOutbound),
                    .init(name: "peers_added_total", value: s.added),
                    .init(name: "peers_dropped_total", value: s.dropped),
                    .init(name: "checks_rejected_total", value: s.checksRejected),
                    .init(name: "dials_total", value: s.dialsStarted),
                    .init(name: "dials_failed_total", value: s.dialsFailed),
                    .init(name: "bytes_in_total", value: s.bytesIn),
                    .init(name: "bytes_out_total", value: s.bytesOut),
                    .init(name: "run_loop_lag_us", value: s.runLoopLagMicroseconds),
                    .init(name: "static_nodes", value: s.staticNodes),
                    .init(name: "trusted_nodes", value: s.trustedNodes),
                    .init(name: "sessions_open", value: s.sessionsOpen),
                    .init(name: "session_opens_started_total", value: s.streams.opensStarted),
                    .init(name: "session_opens_accepted_total", value: s.streams.opensAccepted),
                    .init(name: "session_opens_denied_total", value: s.streams.opensDenied),
                    .init(name: "session_opens_refused_total", value: s.streams.opensRefused),
                    .init(name: "session_flow_violations_total", value: s.streams.flowViolations),
                    .init(name: "datagrams_dropped_total", value: s.streams.datagramsDropped),
                    .init(name: "mux_protocol_errors_total", value: s.streams.protocolErrors),
                    .init(name: "stream_bytes_in_total", value: s.streams.streamBytesIn),
                    .init(name: "stream_bytes_out_total", value: s.streams.streamBytesOut),
                    .init(name: "window_stalls_total", value: s.windowStalls),
                    .init(name: "stream_buffered_bytes", value: s.streams.bufferedBytes),
                    .init(name: "datagrams_dropped_total", value: s.streams.datagramsDropped)]
                + s.streams.failedByReason.sorted { $0.key < $1.key }.prefix(Self.failureReasonCounters)
                    .map { .init(name: "session_opens_failed_\($0.key)_total", value: $0.value) }
        }
    }

    /// The IPC thread's loop; returns after shutdown once every peer is disconnected.
    public func run() throws {
        // No file filter here: NIO may read /proc and /sys; the peer manager holds no key.
        // Reads stay (NIO reads /proc and /sys; the exit's resolver reads /etc/hosts and
        // resolv.conf); writes, creation and exec go: the peer manager holds no key and writes no file.
        child.log(Sandbox.enter(denyFileAccess: false, readOnlyFiles: true))
        child.announceReady()
        try child.loop.run()
        LinkLoops.shutdown(runLoop.linkThreads)
        try? group.syncShutdownGracefully()
    }

    // MARK: IPC side

    private func handleControl(_ frame: IPCReceivedFrame) {
        switch frame.message {
        case .configure(let c):
            do {
                let s = try RoleSettingsCoding.decode(PeerManagerSettings.self, from: c.json)
                runLoop.eventLoop.execute { [runLoop] in runLoop.configure(s) }
            } catch {
                child.log("bad Configure from supervisor: \(error)", level: .error)
            }
        case .attachChannel(let a) where a.neighbourRole == .worker && frame.descriptors.count == 1:
            attachWorker(Int(a.neighbourIndex), fd: frame.descriptors[0])
        case .controlRequest(let r):
            let requestID = frame.requestID
            let message: @Sendable ([UInt8]) -> IPCMessage = { reply in
                let json = String(decoding: reply, as: UTF8.self)
                guard reply.count > IPCLimits.maxControlReplyLength else { return .controlReply(.init(json: json)) }
                return .controlReply(.init(json: String(json.prefix(IPCLimits.maxControlReplyLength))))
            }
            guard let request = try? ControlCoding.decode(Control.ControlRequest.self, Array(r.json.utf8)) else {
                let refusal = ControlCoding.line(Control.ControlReply.failure("unreadable control request")).dropLast()
                try? child.control.send(message(Array(refusal)), requestID: requestID)
                return
            }
            // Answered on the run loop (listings gather every link loop's figures first), in
            // order with its events.
            runLoop.eventLoop.execute { [runLoop, senders] in
                runLoop.control(request).hop(to: runLoop.eventLoop).whenSuccess { reply in
                    senders.toSupervisor(message(reply), requestID: requestID)
                }
            }
        case .connectStream(let c) where frame.descriptors.count == 1:
            let fd = frame.descriptors[0]
            runLoop.eventLoop.execute { [runLoop] in
                runLoop.router.connect(fd: fd, peer: c.peer, target: c.target, origin: c.origin, earlyData: c.earlyData)
            }
        case .entryListener(let e) where frame.descriptors.count == 1:
            let fd = frame.descriptors[0]
            runLoop.eventLoop.execute { [runLoop] in
                runLoop.router.inheritListener(e.kind == .socks5 ? .socks5 : .forward(listen: e.listen), fd: fd)
            }
        default:
            frame.descriptors.forEach { _ = close($0) }
            child.log("unexpected control message \(frame.message.type)", level: .error)
        }
    }

    private func attachWorker(_ index: Int, fd: CInt) {
        if let old = workers.removeValue(forKey: index) {
            old.close()
            runLoop.eventLoop.execute { [runLoop, senders] in
                senders.detachWorker(index)
                runLoop.workerDetached(index)
            }
        }
        let channel: IPCChannel
        do {
            channel = try IPCChannel(adopting: fd, accepting: [.checkPostHandshake, .checkAddPeer, .peerHandoff,
                                                                .handshakeAborted, .dialFailed])
            try child.loop.attach(channel)
        } catch {
            child.log("cannot attach worker \(index): \(error)")
            return
        }
        channel.onFrame = { [runLoop] frame in
            let message = frame.message, requestID = frame.requestID, fds = frame.descriptors
            runLoop.eventLoop.execute { runLoop.handle(message, requestID: requestID, fds: fds, fromWorker: index) }
        }
        channel.onFailure = { [unowned self, unowned channel] error in
            child.logChannelLoss("worker \(index)", error)
            channel.close()
            if workers[index] === channel {
                workers[index] = nil
                runLoop.eventLoop.execute { [runLoop, senders] in
                    senders.detachWorker(index)
                    runLoop.workerDetached(index)
                }
            }
        }
        // The run loop's writer for this worker, over a duplicate made while the socket is
        // surely open (here, before anything can close it).
        let copy = RunLoopSenders.duplicate(channel.fileDescriptor)
        guard copy >= 0 else {
            child.log("cannot attach worker \(index): fcntl(F_DUPFD_CLOEXEC): \(String(cString: strerror(errno)))")
            channel.close()
            return
        }
        workers[index] = channel
        attachments += 1
        let attachment = attachments
        workerAttachment[index] = attachment
        runLoop.eventLoop.execute { [runLoop, senders] in
            do { try senders.attachWorker(index, fd: copy, attachment: attachment) } catch {
                ChildProcess.log(.peerManager, 0, "cannot attach worker \(index)'s writer: \(error)", level: .error)
            }
            runLoop.workerAttached(index)
        }
    }

    /// What the run loop hands to this thread (frames it writes itself).
    private func deliver(_ out: Outgoing) {
        switch out {
        case .finished:
            if stopping { child.loop.stop() }
        case .workerWriterBroke(let index, let attachment, let error):
            // As when this side breaks: drop the channel; the supervisor re-wires the worker.
            guard workerAttachment[index] == attachment, let channel = workers.removeValue(forKey: index) else { return }
            child.logChannelLoss("worker \(index)", error)
            channel.close()
            runLoop.eventLoop.execute { [runLoop, senders] in
                senders.detachWorker(index)
                runLoop.workerDetached(index)
            }
        case .toWorker, .toSupervisor:
            break  // written by the run loop (RunLoopSenders)
        }
    }

    private func beginShutdown(_ reason: DisconnectReason) {
        guard !stopping else { return }
        stopping = true
        child.log("shutting down: disconnecting every peer (\(reason))")
        runLoop.eventLoop.execute { [runLoop] in runLoop.shutdown(reason: reason) }
        // Whatever happens, leave within go-ethereum's disconnect deadline plus a margin.
        child.loop.schedule(after: .seconds(3)) { [unowned self] in child.loop.stop() }
    }
}

/// Lets the run loop post to a mailbox that is created after it.
private final class MailboxHolder: @unchecked Sendable {
    var mailbox: PollLoopMailbox<Outgoing>?
    func post(_ out: Outgoing) { mailbox?.post(out) }
}
