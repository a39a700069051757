#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import DevP2P
import Enode
import IPC
import NodeConfig
import PollLoop
import RLPxFrame
import Secp256k1
import Sockets

/// A handshake worker process: runs the RLPx handshake and Hello for connections the acceptor
/// hands it (responder) and for dials the peer manager asks for (initiator), asks the peer
/// manager its two checkpoint questions, and hands every accepted peer over in one frame: the
/// fd, the whole session state (with every byte read past Hello) and the remote Hello. All the
/// public-key crypto of the node happens here, never in the peer manager's run loop.
public final class HandshakeWorker {
    /// Bytes read per syscall; also the most a peer can get buffered per read.
    static let readChunk = 16 * 1024
    /// go-ethereum's discWriteTimeout: a Disconnect gets this long to be written.
    static let disconnectWriteTimeout: Duration = .seconds(1)

    private let child: ChildProcess
    private var settings: WorkerSettings?
    private var key: PrivateKey?
    /// The Hello every connection sends, made once at Configure: its node ID is a public key
    /// derived from the node key, a point multiplication (some 20 µs) that would otherwise be
    /// repeated for every handshake.
    private var hello: Hello?
    /// The one buffer every socket read of this worker goes into (the loop is single-threaded),
    /// so a read costs one copy of the bytes that came, not a fresh zeroed 16 KiB array.
    private var readBuffer = [UInt8](repeating: 0, count: HandshakeWorker.readChunk)
    private var acceptor: IPCChannel?
    private var peerManager: IPCChannel?
    /// AttachChannel frames received per neighbour role, echoed in ChannelLost so the
    /// supervisor can tell which of its channels broke.
    private var attachments: [IPCMessage.Role: UInt32] = [:]
    private var connections: [UInt64: HandshakeConnection] = [:]
    /// Outstanding checkpoint questions: request id → connection id.
    private var questions: [UInt32: UInt64] = [:]
    private var nextRequest: UInt32 = 0
    private var stats = (handedOff: UInt64(0), failed: UInt64(0), dials: UInt64(0))
    /// Refused connections kept half-open until the peer has read our Disconnect, by fd, with
    /// a token so a late timer never closes a reused fd number.
    private var lingering: [Int32: UInt64] = [:]
    private var lingerTokens: UInt64 = 0
    /// Refused connections lingering at once; past this they are closed at once.
    static let maximumLingering = 256
    /// Failures by `failureLabel`, reported as handshakes_failed_<label>_total so the metrics
    /// show handshakes failed by reason (a fixed, small set of labels).
    private var failedBy: [String: UInt64] = [:]

    /// Workers run at a lower CPU priority (nice) than the peer manager: a flood of handshakes
    /// then delays other handshakes, not the pings of live peers (measured by
    /// ops/bench/daemon.sh: p99 ping RTT under a dial flood fell about 3x with it).
    static let niceness: Int32 = 10

    public init(index: Int) throws {
        child = try ChildProcess(role: .worker, index: index)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        child.onControlMessage = { [unowned self] frame in self.handleControl(frame) }
        child.counters = { [unowned self] in
            [.init(name: "handshakes_ok_total", value: stats.handedOff),
             .init(name: "handshakes_failed_total", value: stats.failed),
             .init(name: "dials_total", value: stats.dials),
             .init(name: "in_flight", value: UInt64(connections.count))]
                + failedBy.sorted { $0.key < $1.key }.map { .init(name: "handshakes_failed_\($0.key)_total", value: $0.value) }
        }
    }

    /// The worker's main loop: connections in, checkpoint verdicts in, handoffs out.
    public func run() throws {
        child.announceReady()
        try child.loop.run()
        for c in connections.values { close(c.fd) }
    }

    // MARK: control and channels

    private func handleControl(_ frame: IPCReceivedFrame) {
        switch frame.message {
        case .configure(let c):
            guard settings == nil else { return }   // the key is set once, before privileges drop
            do {
                let s = try RoleSettingsCoding.decode(WorkerSettings.self, from: c.json)
                let k = try PrivateKey(bytes: Hex.decode(Array(s.nodeKeyHex.utf8)) ?? [])
                key = k
                hello = Hello(clientID: s.clientName, capabilities: [StockadeProtocol.capability],
                              listenPort: UInt64(s.listenPort), nodeID: k.publicKey.raw64)
                settings = s
                child.log(Sandbox.enter(denyFileAccess: true))
            } catch {
                child.log("bad Configure from supervisor: \(error)", level: .error)
            }
        case .attachChannel(let a) where frame.descriptors.count == 1:
            attach(role: a.neighbourRole, fd: frame.descriptors[0])
        default:
            frame.descriptors.forEach { _ = close($0) }
            child.log("unexpected control message \(frame.message.type)", level: .error)
        }
    }

    private func attach(role: IPCMessage.Role, fd: Int32) {
        attachments[role, default: 0] &+= 1
        let attachment = attachments[role] ?? 0
        let accepted: Set<IPCMessageType> = role == .acceptor ? [.inboundConnection] : [.checkVerdict, .dialRequest]
        let channel: IPCChannel
        do {
            channel = try IPCChannel(adopting: fd, accepting: accepted)
            try child.loop.attach(channel)
        } catch {
            child.log("cannot attach \(role): \(error)")
            return
        }
        channel.onFailure = { [unowned self, unowned channel] error in
            let current = (role == .acceptor && acceptor === channel) || (role == .peerManager && peerManager === channel)
            child.logChannelLoss("\(role)", error, then: current ? "; telling the supervisor" : "")
            channel.close()
            guard current else { return }
            if role == .acceptor { acceptor = nil } else { peerManagerLost() }
            // Half-wired, this worker would fail every handshake it gets: the supervisor
            // replaces it (or re-wires it, if the neighbour itself died).
            try? child.control.send(.channelLost(.init(neighbourRole: role, neighbourIndex: 0, attachment: attachment)))
        }
        switch role {
        case .acceptor:
            acceptor?.close()
            acceptor = channel
            channel.onFrame = { [unowned self] frame in
                if case .inboundConnection(let m) = frame.message, frame.descriptors.count == 1 {
                    startInbound(m, fd: frame.descriptors[0])
                } else {
                    frame.descriptors.forEach { _ = close($0) }
                }
            }
        case .peerManager:
            if peerManager != nil { peerManagerLost() }
            peerManager = channel
            channel.onFrame = { [unowned self] frame in
                switch frame.message {
                case .checkVerdict(let v): verdict(v, requestID: frame.requestID)
                case .dialRequest(let d): startDial(d)
                default: frame.descriptors.forEach { _ = close($0) }
                }
            }
        default:
            channel.close()
        }
    }

    /// The peer manager went away: its reservations and pending answers are gone with it, so
    /// every connection waiting on it fails (its successor starts from an empty peer set).
    private func peerManagerLost() {
        peerManager?.close()
        peerManager = nil
        for (_, id) in questions { if let c = connections[id] { fail(c, .io("peer manager restarted"), sendDisconnect: .tooManyPeers) } }
        questions.removeAll()
    }

    // MARK: connections

    private func startInbound(_ m: IPCMessage.InboundConnection, fd: Int32) {
        guard let settings, let key, let hello else {
            close(fd)
            try? acceptor?.send(.handshakeSlotFreed(.init(connectionID: m.connectionID, outcome: .failed)))
            return
        }
        let c = HandshakeConnection(id: m.connectionID, fd: fd, origin: .inbound, remoteAddress: m.remoteAddress,
                                    remotePort: m.remotePort, connecting: false)
        // No fcntl or setsockopt here: the acceptor's accept4 made the socket non-blocking (a
        // flag of the open file, which SCM_RIGHTS shares), and it inherited TCP_NODELAY from
        // the listening socket, which the acceptor sets once (Acceptor.run). Three syscalls
        // less per handshake.
        do {
            c.setup = try ConnectionSetup(role: .responder, staticKey: key, localHello: hello)
        } catch {
            close(fd)
            try? acceptor?.send(.handshakeSlotFreed(.init(connectionID: m.connectionID, outcome: .failed)))
            return
        }
        begin(c, timeout: .milliseconds(settings.handshakeTimeoutMs))
        // A silent connection would hold its handshake slot for the whole deadline; an honest
        // dialer sends its auth message as soon as it is connected (issue 9, fault 9).
        if connections[c.id] != nil && settings.firstBytesTimeoutMs < settings.handshakeTimeoutMs {
            c.firstBytesDeadline = child.loop.schedule(after: .milliseconds(settings.firstBytesTimeoutMs)) { [unowned self, weak c] in
                guard let c, connections[c.id] != nil else { return }
                fail(c, .timeout, sendDisconnect: nil)
            }
        }
    }

    private func startDial(_ d: IPCMessage.DialRequest) {
        stats.dials += 1
        guard let settings, let key, let hello else {
            try? peerManager?.send(.dialFailed(.init(connectionID: d.connectionID, nodeID: d.nodeID, kind: .unreachable, detail: "worker not configured")))
            return
        }
        let remote: PublicKey
        let fd: Int32
        do {
            remote = try PublicKey(bytes: d.nodeID)
            guard let address = SocketAddress(ip: d.address, port: d.port) else { throw SetupFailure.io("bad address \(d.address)") }
            fd = try TCPSocket.startConnect(to: address)
        } catch {
            try? peerManager?.send(.dialFailed(.init(connectionID: d.connectionID, nodeID: d.nodeID, kind: .unreachable, detail: "\(error)")))
            return
        }
        let c = HandshakeConnection(id: d.connectionID, fd: fd, origin: .dial(nodeID: d.nodeID), remoteAddress: d.address,
                                    remotePort: d.port, connecting: true)
        do {
            c.setup = try ConnectionSetup(role: .initiator(remote: remote), staticKey: key, localHello: hello)
        } catch {
            close(fd)
            try? peerManager?.send(.dialFailed(.init(connectionID: d.connectionID, nodeID: d.nodeID, kind: .handshakeFailed, detail: "\(error)")))
            return
        }
        // go-ethereum's dial timeout covers connecting; the handshake deadline follows.
        begin(c, timeout: .milliseconds(settings.dialTimeoutMs + settings.handshakeTimeoutMs))
    }

    private func begin(_ c: HandshakeConnection, timeout: Duration) {
        connections[c.id] = c
        c.deadline = child.loop.schedule(after: timeout) { [unowned self, weak c] in
            guard let c, connections[c.id] != nil else { return }
            fail(c, .timeout, sendDisconnect: nil)
        }
        do {
            try child.loop.register(fd: c.fd, interest: c.connecting ? .writable : .readable) { [unowned self, unowned c] events in
                self.ready(c, events)
            }
        } catch {
            fail(c, .io("\(error)"), sendDisconnect: nil)
            return
        }
        if !c.connecting, let events = c.setup?.start() { apply(events, to: c) }
    }

    private func ready(_ c: HandshakeConnection, _ events: PollEvents) {
        if c.connecting {
            let err = TCPSocket.pendingError(c.fd)
            guard err == 0 else {
                fail(c, .io("connect: \(String(cString: strerror(err)))"), sendDisconnect: nil, dialKind: .unreachable)
                return
            }
            c.connecting = false
            if let start = c.setup?.start() { apply(start, to: c) }
            updateInterest(c)
            return
        }
        if events.contains(.writable) { flush(c) }
        guard connections[c.id] != nil, events.allowsRead, c.closingAfterFlush == nil, c.established == nil else { return }
        let bytes: [UInt8]?
        do { bytes = try readAvailable(c.fd) } catch {
            fail(c, .io("\(error)"), sendDisconnect: nil)
            return
        }
        guard let bytes else { return }
        if bytes.isEmpty {
            fail(c, .io("connection closed by the remote node"), sendDisconnect: nil)
            return
        }
        if let t = c.firstBytesDeadline {
            child.loop.cancel(t)
            c.firstBytesDeadline = nil
        }
        guard var setup = c.setup else { return }
        let out = setup.receive(bytes)
        c.setup = setup
        apply(out, to: c)
    }

    /// Carries out what the setup asked for, in order.
    private func apply(_ events: [ConnectionSetup.Event], to c: HandshakeConnection) {
        // A responder's ack waits for the post-handshake verdict and leaves in one write with
        // the Hello (or the Disconnect) that follows it: the same bytes in the same order, one
        // TCP send and one wake-up of the peer fewer per handshake. The initiator cannot send
        // its Hello before it has our ack, so it loses nothing but the verdict's round trip.
        if case .inbound = c.origin, events.contains(where: { if case .checkPostHandshake = $0 { true } else { false } }) {
            c.holdingOutput = true
        }
        for event in events {
            guard connections[c.id] != nil else { return }
            switch event {
            case .send(let bytes):
                c.queue(bytes)
                if !c.holdingOutput { flush(c) }
            case .checkPostHandshake(let remote):
                ask(c, .checkPostHandshake(.init(connectionID: c.id, nodeID: remote.raw64, direction: c.direction,
                                                 remoteAddress: c.remoteAddress, remotePort: c.remotePort)))
                c.reservedNodeID = remote.raw64
            case .checkAddPeer(let hello):
                c.addPeerAsked = true
                ask(c, .checkAddPeer(.init(connectionID: c.id, nodeID: hello.nodeID,
                                           capabilities: hello.capabilities.map { .init(name: $0.name, version: UInt32(clamping: $0.version)) },
                                           clientID: Self.clientIDForIPC(hello.clientID))))
            case .established(let session):
                c.established = session
                if !c.hasPendingOutput { handOff(c) }
            case .failed(let failure):
                if c.holdingOutput {
                    c.holdingOutput = false
                    flush(c)
                    guard connections[c.id] != nil else { return }
                }
                if c.hasPendingOutput {
                    c.closingAfterFlush = failure
                    child.loop.schedule(after: Self.disconnectWriteTimeout) { [unowned self, weak c] in
                        if let c, connections[c.id] != nil { finish(c, failure) }
                    }
                } else {
                    finish(c, failure)
                }
            }
        }
        updateInterest(c)
    }

    private func ask(_ c: HandshakeConnection, _ question: IPCMessage) {
        guard let peerManager else {
            logRefusal(c, question, "no peer manager to ask")
            fail(c, .io("no peer manager to ask"), sendDisconnect: .tooManyPeers)
            return
        }
        nextRequest &+= 1
        if nextRequest == 0 { nextRequest = 1 }
        questions[nextRequest] = c.id
        do { try peerManager.send(question, requestID: nextRequest) } catch {
            questions[nextRequest] = nil
            logRefusal(c, question, "cannot ask the peer manager: \(error)")
            fail(c, .io("cannot ask the peer manager: \(error)"), sendDisconnect: .tooManyPeers)
        }
    }

    /// A peer this worker turns away itself (no peer manager to ask while it restarts): the
    /// peer manager never hears of it, so the line that says who it was is this one (debug,
    /// per connection).
    private func logRefusal(_ c: HandshakeConnection, _ question: IPCMessage, _ why: String) {
        var who = "\(c.direction) \(c.remoteAddress):\(c.remotePort)"
        switch question {
        case .checkPostHandshake(let q): who = "\(Hex.encode(q.nodeID).prefix(16))… \(who) (before its Hello)"
        case .checkAddPeer(let q): who = "\(Hex.encode(q.nodeID).prefix(16))… \(who) (client \"\(q.clientID)\")"
        default: break
        }
        child.log("refused \(who): \(why); sent TooManyPeers", level: .debug)
    }

    private func verdict(_ v: IPCMessage.CheckVerdict, requestID: UInt32) {
        guard let id = questions.removeValue(forKey: requestID), let c = connections[id], var setup = c.setup else { return }
        let decision: ConnectionSetup.Verdict = v.accepts ? .accept : .reject(DisconnectReason(rawValue: v.disconnectReason ?? 0))
        // The post-handshake question is the one asked before any Hello was seen.
        let events = c.addPeerAsked ? setup.resolveAddPeer(decision) : setup.resolvePostHandshake(decision)
        if !v.accepts { c.reservedNodeID = nil }   // the peer manager holds nothing for a refused peer
        c.setup = setup
        c.holdingOutput = false
        apply(events, to: c)
        // The held ack goes now even if the verdict's events sent nothing after it.
        if connections[c.id] != nil && c.hasPendingOutput {
            flush(c)
            updateInterest(c)
        }
    }

    private func flush(_ c: HandshakeConnection) {
        do { try c.flush() } catch {
            finish(c, c.closingAfterFlush ?? .io("write: \(error)"))
            return
        }
        if !c.hasPendingOutput {
            if let failure = c.closingAfterFlush { finish(c, failure); return }
            if c.established != nil { handOff(c); return }
        }
        updateInterest(c)
    }

    /// What `fd` has now, at most `readChunk` bytes: nil if the read would block, [] at end of
    /// stream (TCPSocket.readAvailable's contract, read into the worker's one buffer).
    private func readAvailable(_ fd: Int32) throws(TCPSocket.SocketError) -> [UInt8]? {
        while true {
            let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { return Array(readBuffer[0..<n]) }
            if n == 0 { return [] }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw TCPSocket.SocketError("read", errno)
        }
    }

    private func updateInterest(_ c: HandshakeConnection) {
        guard connections[c.id] != nil else { return }
        var interest: PollEvents = c.connecting ? .writable : .readable
        if c.hasPendingOutput && !c.holdingOutput { interest.insert(.writable) }
        child.loop.setInterest(interest, for: c.fd)
    }

    // MARK: endings

    /// Hands the live session to the peer manager: fd, session state, Hello, in one frame.
    private func handOff(_ c: HandshakeConnection) {
        guard let session = c.established, let peerManager else {
            fail(c, .io("no peer manager for the handoff"), sendDisconnect: nil)
            return
        }
        let state: [UInt8]
        do { state = try session.codec.exportState() } catch {
            fail(c, .io("cannot export session: \(error)"), sendDisconnect: .protocolError)
            return
        }
        let hello = session.remoteHello
        let message = IPCMessage.peerHandoff(.init(
            connectionID: c.id, nodeID: hello.nodeID, direction: c.direction, remoteAddress: c.remoteAddress,
            remotePort: c.remotePort, helloVersion: hello.protocolVersion, clientID: Self.clientIDForIPC(hello.clientID),
            capabilities: hello.capabilities.map { .init(name: $0.name, version: UInt32(clamping: $0.version)) },
            listenPort: UInt16(clamping: hello.listenPort), snappy: session.messages.snappyEnabled, sessionState: state))
        forget(c)
        do {
            // The channel owns the fd from here (it closes its copy once sent); ours goes with it.
            try peerManager.send(message, transferring: [c.fd])
            stats.handedOff += 1
            freeSlot(c, outcome: .handedOff)
        } catch {
            child.log("handoff of \(c.remoteAddress):\(c.remotePort) failed: \(error)", level: .debug)
            stats.failed += 1
            failedBy["handoff", default: 0] += 1
            freeSlot(c, outcome: .failed)
        }
    }

    /// A Hello's client id cut to the IPC bound, counted in UTF-8 bytes (the bound's unit) at a
    /// character boundary: 256 characters of a non-ASCII name would not fit.
    static func clientIDForIPC(_ id: String) -> String {
        var out = ""
        var bytes = 0
        for ch in id {
            bytes += ch.utf8.count
            if bytes > IPCLimits.maxClientIDLength { break }
            out.append(ch)
        }
        return out
    }

    private func fail(_ c: HandshakeConnection, _ failure: SetupFailure, sendDisconnect reason: DisconnectReason?,
                      dialKind: IPCMessage.DialFailed.Kind? = nil) {
        // A held ack goes out before the Disconnect that follows it (and is dropped with the
        // connection when there is none).
        c.holdingOutput = false
        if let reason, var setup = c.setup {
            let events = setup.abandon(reason, failure: failure)
            c.setup = setup
            apply(events, to: c)
            if connections[c.id] == nil { return }
        }
        finish(c, failure, dialKind: dialKind)
    }

    /// Closes a connection that did not become a peer and tells whoever is waiting.
    private func finish(_ c: HandshakeConnection, _ failure: SetupFailure, dialKind: IPCMessage.DialFailed.Kind? = nil) {
        guard connections[c.id] != nil else { return }
        forget(c)
        // Past the encryption handshake the setup may have sent a Disconnect: let it be read.
        if c.setup?.remoteNodeID != nil { linger(c.fd) } else { close(c.fd) }
        stats.failed += 1
        // A dial that never connected is a failed dial (the peer manager's dials_failed_total),
        // not a failed handshake: no handshake began.
        if dialKind != .unreachable { failedBy[Self.failureLabel(failure), default: 0] += 1 }
        if let nodeID = c.reservedNodeID {
            try? peerManager?.send(.handshakeAborted(.init(connectionID: c.id, nodeID: nodeID, reason: failure.description)))
        }
        if case .dial(let nodeID) = c.origin {
            let kind: IPCMessage.DialFailed.Kind
            switch failure {
            case .timeout: kind = .timeout
            case .rejected, .remoteDisconnected: kind = .refusedByCheck
            case .io: kind = dialKind ?? .handshakeFailed
            default: kind = .handshakeFailed
            }
            try? peerManager?.send(.dialFailed(.init(connectionID: c.id, nodeID: nodeID, kind: kind, detail: String(failure.description.prefix(256)))))
        }
        freeSlot(c, outcome: Self.outcome(of: failure))
    }

    /// The metrics label of a failure: what went wrong, not its details (bounded label values).
    static func failureLabel(_ failure: SetupFailure) -> String {
        switch failure {
        case .handshake: return "handshake"
        case .frame: return "frame"
        case .hello: return "hello"
        case .unexpectedIdentity: return "unexpected_identity"
        case .remoteDisconnected: return "remote_disconnected"
        case .rejected: return "rejected"
        case .protocolViolation: return "protocol_violation"
        case .timeout: return "timeout"
        case .io: return "io"
        }
    }

    /// How the acceptor should count a failure toward the source's penalty.
    static func outcome(of failure: SetupFailure) -> IPCMessage.HandshakeSlotFreed.Outcome {
        switch failure {
        case .handshake, .frame, .hello, .unexpectedIdentity, .protocolViolation: return .protocolViolation
        case .timeout: return .timedOut
        case .rejected, .remoteDisconnected, .io: return .failed
        }
    }

    /// Closing a socket with unread input makes the kernel send RST, and a peer that gets RST
    /// discards what it had not read yet: our Disconnect and its reason. So after a Disconnect
    /// the write side is shut, input is drained, and the socket closes when the peer closes or
    /// after go-ethereum's disconnect write deadline.
    private func linger(_ fd: Int32) {
        guard lingering.count < Self.maximumLingering else { close(fd); return }
        shutdown(fd, Int32(SHUT_WR))
        lingerTokens += 1
        let token = lingerTokens
        lingering[fd] = token
        do {
            try child.loop.register(fd: fd, interest: .readable) { [unowned self] _ in
                var sink = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = sink.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 { continue }
                    if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
                    endLinger(fd, token)
                    return
                }
            }
        } catch {
            endLinger(fd, token)
            return
        }
        child.loop.schedule(after: Self.disconnectWriteTimeout) { [unowned self] in endLinger(fd, token) }
    }

    private func endLinger(_ fd: Int32, _ token: UInt64) {
        guard lingering[fd] == token else { return }
        lingering[fd] = nil
        child.loop.unregister(fd: fd)
        close(fd)
    }

    private func forget(_ c: HandshakeConnection) {
        connections[c.id] = nil
        child.loop.unregister(fd: c.fd)
        if let t = c.deadline { child.loop.cancel(t) }
        if let t = c.firstBytesDeadline { child.loop.cancel(t) }
        // In place: a filtered copy would allocate a new table for every connection.
        for (request, id) in questions where id == c.id { questions[request] = nil }
    }

    private func freeSlot(_ c: HandshakeConnection, outcome: IPCMessage.HandshakeSlotFreed.Outcome) {
        if case .inbound = c.origin {
            try? acceptor?.send(.handshakeSlotFreed(.init(connectionID: c.id, outcome: outcome)))
        }
    }
}
