#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import Enode
import Secp256k1
import Sockets

/// Mode `hold`: one process that keeps many idle peers of the daemon, from one 127.0.0.x
/// source address, on one poll(2) loop (a thread per peer would not reach 10,000; Swift's Glibc
/// module has no epoll). Idle, the loop naps `idleNap` between turns, so thousands of peers'
/// Pings are answered in batches at a small cost to this client; the Pings of the probe,
/// which measure round trips, do not go through a holder. Each peer is
/// a fresh node key, the initiator handshake and Hello, then it only answers the daemon's
/// Pings, as an idle go-ethereum peer would. A peer counts as held once the peer manager's
/// first Ping arrives (only the peer manager pings, so it then holds the peer).
///
/// Driven by lines on stdin, answered by lines on stdout (the `scale` mode runs several):
///     grow N    open peers until N are held (at most `inFlight` handshakes at once); answers
///               `held n=… failed=… dropped=…` once N are held or the failures run out
///     status    answers the same line at once
///     quit      Disconnect(requested) to every peer, then exit (also on EOF, and after
///               `lifetime` seconds whatever happens)
final class PeerHolder {
    final class Peer {
        let fd: Int32
        var setup: ConnectionSetup?
        var session: EstablishedSession?
        var connecting = true
        var held = false
        var outbound: [UInt8] = []
        let started = ContinuousClock.now
        init(fd: Int32) { self.fd = fd }
    }

    let target: EnodeURL
    let source: SocketAddress
    let lifetime: Duration
    /// Handshakes in flight at once from this process.
    static let inFlight = 24
    /// A peer not held within this long is given up (the daemon's own deadline is 5 s).
    static let setupTimeout = Duration.seconds(15)
    /// Nap between loop turns while no handshake is in flight (Pongs to the daemon's Pings
    /// may wait this long; its read timeout is 30 s).
    static let idleNapMicroseconds: useconds_t = 20_000

    /// Interest per descriptor; the pollfd array is rebuilt from it when it changed.
    private var interest: [Int32: Int16] = [:]
    private var pollSet: [pollfd] = []
    private var pollSetStale = true
    private var peers: [Int32: Peer] = [:]
    private var goal = 0
    private var heldCount = 0
    private var failed = 0
    private var dropped = 0
    private var failureKinds: [String: Int] = [:]
    private var answerWhenHeld = false
    private var stdinBuffer: [UInt8] = []
    private var running = true

    init(target: EnodeURL, source: SocketAddress, lifetime: Duration) {
        self.target = target
        self.source = source
        self.lifetime = lifetime
    }

    /// The most peers this process may hold: RLIMIT_NOFILE raised to its hard limit, less a
    /// margin for stdio and the epoll fd. Says so on stderr when the hard limit is the bound.
    static func raiseDescriptorLimit(wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
        let need = rlim_t(wanted + 64)
        if limit.rlim_cur < need {
            limit.rlim_cur = min(need, limit.rlim_max)
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                note("hold: cannot raise RLIMIT_NOFILE to \(limit.rlim_cur): \(String(cString: strerror(errno)))")
                _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            }
        }
        let room = Int(limit.rlim_cur) - 64
        if room < wanted { note("hold: RLIMIT_NOFILE (soft \(limit.rlim_cur), hard \(limit.rlim_max)) allows only \(room) peers of the \(wanted) asked for") }
        return max(0, min(wanted, room))
    }

    func run() {
        TCPSocket.setNonBlocking(0)
        watch(0, events: POLLIN)
        let end = ContinuousClock.now + lifetime
        while running && ContinuousClock.now < end {
            if pollSetStale {
                pollSet = interest.map { pollfd(fd: $0.key, events: $0.value, revents: 0) }
                pollSetStale = false
            }
            let n = pollSet.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 250) }
            if n < 0 && errno != EINTR { note("hold: poll: \(String(cString: strerror(errno)))"); break }
            if n > 0 {
                let fired = pollSet.filter { $0.revents != 0 }
                for p in fired {
                    if p.fd == 0 { readCommands(); continue }
                    guard let peer = peers[p.fd] else { continue }
                    ready(peer, p.revents)
                }
            }
            expireSlowSetups()
            openMore()
            reportIfDone()
            if inSetup == 0 { usleep(Self.idleNapMicroseconds) }
        }
        for peer in Array(peers.values) { close(peer, disconnect: true) }
    }

    // MARK: commands

    private func readCommands() {
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n > 0 { stdinBuffer += chunk[..<n]; continue }
            if n == 0 { running = false }
            break
        }
        while let newline = stdinBuffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: stdinBuffer[..<newline], as: UTF8.self)
            stdinBuffer.removeSubrange(...newline)
            let words = line.split(separator: " ")
            switch words.first {
            case "grow":
                goal = max(0, Int(words.dropFirst().first ?? "") ?? 0)
                goal = PeerHolder.raiseDescriptorLimit(wanted: goal)
                answerWhenHeld = true
            case "status": answer()
            case "quit": running = false
            default: note("hold: unknown command \(line)")
            }
        }
    }

    private var inSetup: Int { peers.count - heldCount }
    /// Failures allowed per grow before the holder answers with what it has.
    private var failureBudget: Int { 100 + goal / 10 }

    private func reportIfDone() {
        guard answerWhenHeld else { return }
        if heldCount >= goal || (failed >= failureBudget && inSetup == 0) {
            answerWhenHeld = false
            answer()
        }
    }

    private func answer() {
        writeLine(1, "held n=\(heldCount) failed=\(failed) dropped=\(dropped)")
        for (kind, count) in failureKinds.sorted(by: { $0.value > $1.value }).prefix(3) { note("hold: failure x\(count): \(kind)") }
    }

    // MARK: peers

    private func openMore() {
        while heldCount + inSetup < goal && inSetup < Self.inFlight && failed < failureBudget {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { fail(nil, "socket: \(String(cString: strerror(errno)))"); return }
            guard let remote = target.ip.flatMap({ SocketAddress(ipBytes: $0.bytes, port: target.tcpPort) }) else { fatalError("no target address") }
            let bound = source.withSockaddr { bind(fd, $0, $1) }
            let rc = remote.withSockaddr { connect(fd, $0, $1) }
            if bound != 0 || (rc != 0 && errno != EINPROGRESS) {
                let what = bound != 0 ? "bind \(source)" : "connect"
                let e = String(cString: strerror(errno))
                Glibc.close(fd)
                fail(nil, "\(what): \(e)")
                continue
            }
            TCPSocket.setNoDelay(fd)
            let key = PrivateKey.generate()
            let hello = Hello(clientID: "StockadeLoad (held)", capabilities: [StockadeProtocol.capability],
                              listenPort: 0, nodeID: key.publicKey.raw64)
            let peer = Peer(fd: fd)
            do { peer.setup = try ConnectionSetup(role: .initiator(remote: target.nodeID.publicKey), staticKey: key, localHello: hello) } catch {
                Glibc.close(fd)
                fail(nil, "setup: \(error)")
                continue
            }
            peers[fd] = peer
            watch(fd, events: POLLOUT)
        }
    }

    private func expireSlowSetups() {
        let now = ContinuousClock.now
        for peer in peers.values where !peer.held && now - peer.started > Self.setupTimeout {
            fail(peer, "not held within \(Self.setupTimeout)")
        }
    }

    private func ready(_ peer: Peer, _ events: Int16) {
        if peer.connecting {
            guard TCPSocket.pendingError(peer.fd) == 0 else { fail(peer, "connect: \(String(cString: strerror(TCPSocket.pendingError(peer.fd))))"); return }
            peer.connecting = false
            if let start = peer.setup?.start() { apply(start, to: peer) }
            return
        }
        if events & Int16(POLLOUT) != 0 { flush(peer) }
        guard peers[peer.fd] != nil, events & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        let bytes: [UInt8]?
        do { bytes = try TCPSocket.readAvailable(peer.fd, max: 16 * 1024) } catch {
            lost(peer, "read: \(error)")
            return
        }
        guard let bytes else { return }
        if bytes.isEmpty { lost(peer, "closed by the daemon"); return }
        if var setup = peer.setup {
            let out = setup.receive(bytes)
            peer.setup = setup
            apply(out, to: peer)
        } else {
            peer.session?.codec.feed(bytes)
        }
        drain(peer)
    }

    private func apply(_ events: [ConnectionSetup.Event], to peer: Peer) {
        var pending = events[...]
        while let event = pending.popFirst() {
            guard peers[peer.fd] != nil else { return }
            switch event {
            case .send(let bytes): queue(bytes, to: peer)
            case .checkPostHandshake: pending += peer.setup?.resolvePostHandshake(.accept) ?? []
            case .checkAddPeer: pending += peer.setup?.resolveAddPeer(.accept) ?? []
            case .established(let session):
                peer.setup = nil
                peer.session = session
            case .failed(let failure): fail(peer, "setup: \(failure)"); return
            }
        }
        if peers[peer.fd] != nil { watch(peer.fd, events: POLLIN | (peer.outbound.isEmpty ? 0 : POLLOUT)) }
    }

    /// Frames of a live session: Ping → Pong; the first one makes the peer held.
    private func drain(_ peer: Peer) {
        guard peer.session != nil else { return }
        while peers[peer.fd] != nil {
            let message: Message
            do {
                guard let frame = try peer.session!.codec.nextFrame() else { return }
                message = try peer.session!.messages.decode(frame)
            } catch {
                lost(peer, "bad frame: \(error)")
                return
            }
            switch try? BaseProtocolMessage.decode(message) {
            case .ping:
                if !peer.held { peer.held = true; heldCount += 1 }
                send(.pong, to: peer)
            case .disconnect(let reason): lost(peer, "disconnected by the daemon: \(reason)")
            default: break
            }
        }
    }

    private func send(_ message: BaseProtocolMessage, to peer: Peer) {
        guard var session = peer.session else { return }
        do {
            let bytes = try session.codec.encode(try session.messages.encode(message.message))
            peer.session = session
            queue(bytes, to: peer)
        } catch {
            lost(peer, "encode: \(error)")
        }
    }

    private func queue(_ bytes: [UInt8], to peer: Peer) {
        let wasEmpty = peer.outbound.isEmpty
        peer.outbound += bytes
        flush(peer)
        if peers[peer.fd] != nil && wasEmpty && !peer.outbound.isEmpty {
            watch(peer.fd, events: POLLIN | POLLOUT)
        }
    }

    private func flush(_ peer: Peer) {
        guard !peer.outbound.isEmpty else { return }
        do {
            let n = try TCPSocket.writeSome(peer.fd, peer.outbound[...])
            peer.outbound.removeFirst(n)
        } catch {
            lost(peer, "write: \(error)")
            return
        }
        if peer.outbound.isEmpty { watch(peer.fd, events: POLLIN) }
    }

    /// A held peer went away (counted as dropped), or one in setup failed.
    private func lost(_ peer: Peer, _ why: String) {
        if peer.held {
            dropped += 1
            heldCount -= 1
            failureKinds["dropped: " + why, default: 0] += 1
            close(peer, disconnect: false)
        } else {
            fail(peer, why)
        }
    }

    private func fail(_ peer: Peer?, _ why: String) {
        failed += 1
        if failureKinds[why] != nil || failureKinds.count < 16 { failureKinds[why, default: 0] += 1 }
        if let peer { close(peer, disconnect: false) }
    }

    private func close(_ peer: Peer, disconnect: Bool) {
        if disconnect && peer.held { send(.disconnect(.requested), to: peer) }
        peers[peer.fd] = nil
        interest[peer.fd] = nil
        pollSetStale = true
        Glibc.close(peer.fd)
    }

    private func watch(_ fd: Int32, events: Int32) {
        let e = Int16(events)
        guard interest[fd] != e else { return }
        interest[fd] = e
        pollSetStale = true
    }
}
