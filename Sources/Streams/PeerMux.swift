import Enode
import Mux
import NIOCore

/// What a peer link offers its mux: the devp2p peer handler implements it (PeerManager).
public protocol MuxTransport: AnyObject {
    /// False while the peer's socket is backed up (NIO's write-buffer high watermark).
    var isWritable: Bool { get }
    /// Writes one `stk/1` message (`id` relative to the capability's offset), without flushing.
    func sendMux(id: UInt64, payload: [UInt8])
    func flushMux()
    /// The peer broke the mux protocol: disconnect it with ProtocolError.
    func muxProtocolError(_ why: String)
}

/// The driver of one peer link's sessions: feeds `MuxLink` what the peer and the local sockets
/// do, and carries out what it says. Lives on the peer manager's event loop.
public final class PeerMux {
    public let nodeID: [UInt8]
    let peerAddress: String
    var link: MuxLink
    weak var transport: MuxTransport?
    unowned let router: StreamRouter

    /// Sessions with a local socket.
    var streams: [UInt16: LocalStream] = [:]
    /// Entry sessions waiting for the exit's answer: called with nil once open, else the code.
    var opening: [UInt16: (MuxErrorCode?) -> Void] = [:]
    /// Exit sessions whose target is being resolved or connected.
    var connecting: [UInt16: PendingExit] = [:]
    /// UDP sessions: the relay at the entry, the exit's socket.
    var datagramEndpoints: [UInt16: DatagramEndpoint] = [:]
    /// Sessions whose socket is not read until their send queue drains.
    private var paused: Set<UInt16> = []
    private var pumping = false
    private var pumpScheduled = false
    private(set) var closed = false

    /// What a pump writes before yielding the loop (two messages): a new session's open or
    /// first byte waits at most this long behind a bulk one on either side's event loop.
    static let pumpBudget = 128 * 1024

    init(nodeID: [UInt8], peerAddress: String, role: MuxRole, limits: MuxLimits, router: StreamRouter) {
        self.nodeID = nodeID
        self.peerAddress = peerAddress
        self.router = router
        link = MuxLink(role: role, limits: limits)
    }

    var shortID: String { String(Hex.encode(nodeID).prefix(16)) }

    // MARK: from the peer

    /// One `stk/1` message from the peer.
    public func receive(messageID: UInt64, payload: [UInt8]) {
        guard !closed else { return }
        let events: [MuxEvent]
        do {
            events = try link.receive(messageID: messageID, payload: payload, now: .now)
        } catch {
            router.counters.protocolErrors += 1
            router.log("peer \(shortID)… \(peerAddress): mux protocol error: \(error)")
            transport?.muxProtocolError(error.description)
            return
        }
        router.counters.muxBytesIn += UInt64(payload.count)
        handle(events)
        pump()
    }

    public func transportWritable() { pump() }

    /// The link's path round trip is the least of its recent Pings (BBR's min_rtt): a Ping
    /// that waited behind bulk data measures the queue, and growing windows on it would only
    /// grow the queue (every session behind it waits as long).
    public func rttMeasured(_ rtt: Duration) {
        recentRTTs.append(rtt)
        if recentRTTs.count > Self.rttSamples { recentRTTs.removeFirst() }
        link.rtt = recentRTTs.min()
    }
    private var recentRTTs: [Duration] = []
    /// Pings remembered for the minimum: ten seconds of them while sessions are open.
    static let rttSamples = 10

    /// Whether any session is open (the link then measures its round trip more often).
    public var hasSessions: Bool { link.sessionCount > 0 }

    /// The peer link is gone: every session with it ends, its local sockets are reset.
    public func transportClosed() {
        guard !closed else { return }
        closed = true
        for (_, reply) in opening { reply(.networkUnreachable) }
        opening.removeAll()
        for (_, pending) in connecting { pending.cancelled = true }
        connecting.removeAll()
        for stream in streams.values { stream.reset() }
        streams.removeAll()
        for endpoint in datagramEndpoints.values { endpoint.sessionClosed(.networkUnreachable) }
        datagramEndpoints.removeAll()
        router.budgetChanged(self, buffered: 0, growth: 0)
    }

    private func handle(_ events: [MuxEvent]) {
        for event in events {
            switch event {
            case .openRequested(let id, let target):
                router.counters.opensRequested += 1
                router.exitOpen(self, id, target)
            case .opened(let id):
                opening.removeValue(forKey: id)?(nil)
            case .data(let id, let bytes):
                router.counters.streamBytesIn += UInt64(bytes.count)
                if let stream = streams[id] {
                    write(bytes, to: stream, session: id)
                } else if let pending = connecting[id] {
                    pending.data.append(bytes)
                }
            case .datagram(let id, let bytes, let address):
                router.counters.streamBytesIn += UInt64(bytes.count)
                // A datagram is consumed as soon as it is handed on (or dropped): UDP has no
                // backpressure to pass along, and the window only bounds what is in flight.
                if let endpoint = datagramEndpoints[id] {
                    endpoint.received(bytes, address: address)
                } else if let pending = connecting[id] {
                    pending.datagrams.append((bytes, address))
                }
                link.consumed(id, bytes.count, now: .now, growthAllowance: 0)
            case .remoteFinished(let id):
                if let stream = streams[id] { stream.shutOutputAfterWrites() } else { connecting[id]?.fin = true }
            case .closed(let id, let code):
                if let reply = opening.removeValue(forKey: id) {
                    streams[id] = nil
                    reply(code ?? .generalFailure)
                } else if let stream = streams.removeValue(forKey: id) {
                    if code == nil { stream.closeAfterWrites() } else { stream.reset() }
                }
                if let pending = connecting.removeValue(forKey: id) { pending.cancelled = true }
                datagramEndpoints.removeValue(forKey: id)?.sessionClosed(code)
                if let code, code == .flowControl {
                    router.counters.flowViolations += 1
                    router.debug("peer \(shortID)… session \(id): aborted: \(code)")
                }
                paused.remove(id)
            case .sendable:
                break
            case .refusedOpen(let id, let code):
                router.counters.opensRefused += 1
                router.debug("peer \(shortID)… session \(id): open refused: \(code)")
            }
        }
    }

    /// Writes session data to its socket; the bytes count as consumed once written, and only
    /// while the stream still holds the session (a later session may reuse the ID).
    private func write(_ bytes: [UInt8], to stream: LocalStream, session id: UInt16) {
        stream.write(bytes) { [weak self, weak stream] n in
            guard let self, let stream, self.streams[id] === stream else { return }
            self.consumed(id, n)
        }
    }

    private func consumed(_ id: UInt16, _ count: Int) {
        guard !closed else { return }
        link.consumed(id, count, now: .now, growthAllowance: router.growthAllowance(for: self))
        pump()
    }

    // MARK: from the local sockets

    func localRead(_ stream: LocalStream, _ bytes: [UInt8]) {
        guard let id = stream.sessionID, streams[id] === stream else { return }
        router.counters.streamBytesOut += UInt64(bytes.count)
        link.send(id, bytes)
        if link.queuedBytes(id) >= LocalStream.readHighWater {
            stream.pauseReads()
            paused.insert(id)
        }
        pump()
    }

    func localFinished(_ stream: LocalStream) {
        guard let id = stream.sessionID, streams[id] === stream else { return }
        link.finish(id)
        pump()
    }

    /// The socket went away. If this side closed it, the session is already ending; otherwise
    /// it failed under us: abort the session.
    func localClosed(_ stream: LocalStream) {
        guard let id = stream.sessionID, streams[id] === stream else { return }
        streams[id] = nil
        paused.remove(id)
        opening[id] = nil
        if !stream.closing { link.abort(id, .reset) }
        pump()
    }

    func localFailed(_ stream: LocalStream, _ code: MuxErrorCode) {
        guard let id = stream.sessionID, streams[id] === stream else { return }
        streams[id] = nil
        paused.remove(id)
        opening[id] = nil
        link.abort(id, code)
        stream.reset()
        pump()
    }

    // MARK: entry side

    /// Opens a session to `target` for `stream` (a SOCKS5 or forward client), sending
    /// `initialData` with the New; `reply` runs once with nil when the exit accepted, or the
    /// reason it did not (or `.timedOut` at `deadline`).
    /// With `readEarly` the client's bytes are read and sent before the exit's answer (a
    /// forward: the first request rides with the New); without, only after it (SOCKS5, whose
    /// client waits for the reply).
    func open(_ target: MuxTarget, for stream: LocalStream, initialData: [UInt8], readEarly: Bool, deadline: NIODeadline,
              reply: @escaping (MuxErrorCode?) -> Void) {
        guard !closed, let id = link.open(target, now: .now) else {
            reply(closed ? .networkUnreachable : .tooManySessions)
            return
        }
        router.counters.opensStarted += 1
        stream.sessionID = id
        stream.mux = self
        streams[id] = stream
        opening[id] = reply
        if !initialData.isEmpty { link.send(id, initialData) }
        if readEarly { stream.resumeReads() }
        stream.channel.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let reply = self.opening.removeValue(forKey: id) else { return }
            self.streams[id] = nil
            self.link.abort(id, .timedOut)
            self.pump()
            reply(.timedOut)
        }
        pump()
    }

    // MARK: exit side (the connect itself is ExitConnector's)

    /// The target of exit session `id` is connected: the session is accepted and its early data written.
    func exitConnected(_ id: UInt16, stream: LocalStream) {
        guard let pending = connecting.removeValue(forKey: id), !pending.cancelled, !closed else {
            stream.close()
            return
        }
        stream.sessionID = id
        stream.mux = self
        streams[id] = stream
        link.accept(id)
        router.counters.opensAccepted += 1
        for bytes in pending.data { write(bytes, to: stream, session: id) }
        if pending.fin { stream.shutOutputAfterWrites() }
        stream.resumeReads()
        pump()
    }

    func exitFailed(_ id: UInt16, _ code: MuxErrorCode) {
        guard connecting.removeValue(forKey: id) != nil, !closed else { return }
        link.refuse(id, code)
        pump()
    }

    // MARK: sending

    /// Writes what the link has to send while the peer's socket takes it; resumes the local
    /// sockets whose queues drained.
    func pump() {
        guard !pumping, !closed, let transport else { return }
        pumping = true
        defer { pumping = false }
        var written = 0
        while transport.isWritable, written < Self.pumpBudget, let (id, payload) = link.nextMessage() {
            transport.sendMux(id: id, payload: payload)
            transport.flushMux()
            written += payload.count
        }
        router.counters.muxBytesOut += UInt64(written)
        if !paused.isEmpty {
            for id in paused where link.queuedBytes(id) < LocalStream.readLowWater {
                paused.remove(id)
                streams[id]?.resumeReads()
            }
        }
        router.budgetChanged(self, buffered: link.bufferedBytes, growth: link.windowGrowth)
        if written >= Self.pumpBudget && transport.isWritable && link.hasPendingOutput && !pumpScheduled {
            // Yield to the other links and sockets, then go on.
            pumpScheduled = true
            router.eventLoop.execute { [weak self] in
                self?.pumpScheduled = false
                self?.pump()
            }
        }
    }
}

/// The local side of a UDP session: the entry's relay or the exit's socket.
protocol DatagramEndpoint: AnyObject {
    /// A datagram from the peer: to `address` (at the exit) or from it (at the entry); nil
    /// means the session's target.
    func received(_ bytes: [UInt8], address: MuxTarget?)
    /// The session ended (with the code when it was aborted).
    func sessionClosed(_ code: MuxErrorCode?)
}

extension PeerMux {
    /// Opens a UDP session to `target` for `endpoint`, its first datagram riding with the New;
    /// `reply` as for streams. Nil when the link holds its limit of sessions.
    func openDatagrams(_ target: MuxTarget, for endpoint: DatagramEndpoint, first: [UInt8], deadline: NIODeadline,
                       reply: @escaping (MuxErrorCode?) -> Void) -> UInt16? {
        guard !closed, let id = link.open(target, now: .now) else { return nil }
        router.counters.opensStarted += 1
        datagramEndpoints[id] = endpoint
        opening[id] = reply
        link.sendDatagram(id, first)
        router.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let reply = self.opening.removeValue(forKey: id) else { return }
            self.datagramEndpoints[id] = nil
            self.link.abort(id, .timedOut)
            self.pump()
            reply(.timedOut)
        }
        pump()
        return id
    }

    /// Sends one datagram on UDP session `id` (dropped and counted past the bounds: this one
    /// when too large, the oldest queued when the queue overflows).
    func sendDatagram(_ id: UInt16, _ bytes: [UInt8], address: MuxTarget?) {
        router.counters.streamBytesOut += UInt64(bytes.count)
        let droppedBefore = link.stats.datagramsDropped
        let queued = link.sendDatagram(id, bytes, address: address)
        let dropped = link.stats.datagramsDropped - droppedBefore
        router.counters.datagramsDropped += queued || dropped > 0 ? dropped : 1
        pump()
    }

    /// Ends UDP session `id` from this side (idle, or its owner went away).
    func closeDatagrams(_ id: UInt16) {
        datagramEndpoints[id] = nil
        opening[id] = nil
        link.close(id)
        pump()
    }

    /// The exit's UDP socket for session `id` is ready: accepted, and what came early delivered.
    func exitDatagramsReady(_ id: UInt16, endpoint: DatagramEndpoint) {
        guard let pending = connecting.removeValue(forKey: id), !pending.cancelled, !closed else {
            endpoint.sessionClosed(nil)
            return
        }
        datagramEndpoints[id] = endpoint
        link.accept(id)
        router.counters.opensAccepted += 1
        for (bytes, address) in pending.datagrams { endpoint.received(bytes, address: address) }
        pump()
    }
}

/// An exit session between its New and its target's connect.
final class PendingExit {
    var datagrams: [([UInt8], MuxTarget?)] = []
    var data: [[UInt8]] = []
    var fin = false
    var cancelled = false
}
