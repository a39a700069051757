#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import Enode
import Secp256k1
import Sockets

/// One devp2p peer over a blocking-style TCP socket with deadlines: the client side of
/// `stockade ping`, and the independent client the end-to-end tests use against the daemon.
/// It accepts every checkpoint (it has no peer set), so what it reports is the remote's word.
public final class PeerLink {
    public private(set) var session: EstablishedSession
    public let fd: Int32
    public let remoteAddress: SocketAddress?
    private var closed = false

    /// Read size per syscall; frames larger than this take several reads.
    static let readChunk = 64 * 1024

    private init(fd: Int32, session: EstablishedSession) {
        self.fd = fd
        self.session = session
        self.remoteAddress = SocketAddress.peer(of: fd)
    }

    deinit { close() }

    /// Dials `enode`, runs the initiator handshake and the Hello exchange within `timeout`.
    public static func dial(_ enode: EnodeURL, key: PrivateKey, hello: Hello, timeout: Duration) throws(PeerLinkError) -> PeerLink {
        guard let ip = enode.ip, let address = SocketAddress(ipBytes: ip.bytes, port: enode.tcpPort) else {
            throw .badAddress("the enode URL has no IP address")
        }
        let deadline = Deadline(timeout)
        let fd: Int32
        do {
            fd = try TCPSocket.connect(to: address, timeoutMilliseconds: deadline.remainingMilliseconds)
        } catch {
            if error.errno == ETIMEDOUT { throw .timeout("connecting to \(address)") }
            throw .unreachable(error.description)
        }
        do {
            return try establish(fd: fd, role: .initiator(remote: enode.nodeID.publicKey), key: key, hello: hello, deadline: deadline)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Runs the responder side on an accepted socket (tests use it as a listening peer).
    public static func accept(fd: Int32, key: PrivateKey, hello: Hello, timeout: Duration) throws(PeerLinkError) -> PeerLink {
        TCPSocket.setNonBlocking(fd)
        return try establish(fd: fd, role: .responder, key: key, hello: hello, deadline: Deadline(timeout))
    }

    private static func establish(fd: Int32, role: ConnectionSetup.Role, key: PrivateKey, hello: Hello, deadline: Deadline) throws(PeerLinkError) -> PeerLink {
        var setup: ConnectionSetup
        do { setup = try ConnectionSetup(role: role, staticKey: key, localHello: hello) } catch { throw .setup(error) }
        var pending = setup.start()
        while true {
            while !pending.isEmpty {
                let event = pending.removeFirst()
                switch event {
                case .send(let bytes):
                    try writeAll(fd, bytes, deadline: deadline)
                case .checkPostHandshake:
                    pending += setup.resolvePostHandshake(.accept)
                case .checkAddPeer:
                    pending += setup.resolveAddPeer(.accept)
                case .established(let session):
                    return PeerLink(fd: fd, session: session)
                case .failed(let failure):
                    throw .setup(failure)
                }
            }
            guard let bytes = try readSome(fd, deadline: deadline, what: "the handshake") else {
                throw .closedByRemote("during the handshake")
            }
            pending += setup.receive(bytes)
        }
    }

    // MARK: messages

    public func send(_ message: BaseProtocolMessage, timeout: Duration = .seconds(5)) throws(PeerLinkError) {
        try send(message.message, timeout: timeout)
    }

    public func send(_ message: Message, timeout: Duration = .seconds(5)) throws(PeerLinkError) {
        let bytes: [UInt8]
        do { bytes = try session.codec.encode(try session.messages.encode(message)) } catch { throw .protocolViolation("\(error)") }
        try PeerLink.writeAll(fd, bytes, deadline: Deadline(timeout))
    }

    /// The next message from the peer, within `timeout`.
    public func receive(timeout: Duration) throws(PeerLinkError) -> Message {
        let deadline = Deadline(timeout)
        while true {
            do {
                if let frame = try session.codec.nextFrame() {
                    return try session.messages.decode(frame)
                }
            } catch {
                throw .protocolViolation("\(error)")
            }
            guard let bytes = try PeerLink.readSome(fd, deadline: deadline, what: "a message") else {
                throw .closedByRemote("while waiting for a message")
            }
            session.codec.feed(bytes)
        }
    }

    /// One Ping/Pong round trip; answers the peer's Pings meanwhile. A Disconnect from the peer
    /// is an error carrying its reason.
    public func ping(timeout: Duration) throws(PeerLinkError) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try send(.ping, timeout: timeout)
        let deadline = Deadline(timeout)
        while true {
            let message = try receive(timeout: .milliseconds(Int64(deadline.remainingMilliseconds)))
            switch try? BaseProtocolMessage.decode(message) {
            case .pong: return clock.now - start
            case .ping: try send(.pong, timeout: timeout)
            case .disconnect(let reason): throw .remoteDisconnected(reason)
            default: continue   // capability messages are not ours to handle here
            }
        }
    }

    /// Sends Disconnect(reason) with go-ethereum's short deadline, then closes.
    public func disconnect(_ reason: DisconnectReason) {
        try? send(.disconnect(reason), timeout: .seconds(1))
        close()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    // MARK: I/O with deadlines

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: Deadline) throws(PeerLinkError) {
        var offset = 0
        while offset < bytes.count {
            let n: Int
            do { n = try TCPSocket.writeSome(fd, bytes[offset...]) } catch { throw .io(error.description) }
            offset += n
            if offset < bytes.count && !TCPSocket.waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: deadline.remainingMilliseconds) {
                throw .timeout("writing to the peer")
            }
        }
    }

    /// Bytes read, or nil at end of stream.
    static func readSome(_ fd: Int32, deadline: Deadline, what: String) throws(PeerLinkError) -> [UInt8]? {
        while true {
            let got: [UInt8]?
            do { got = try TCPSocket.readAvailable(fd, max: readChunk) } catch {
                if error.errno == ECONNRESET { return nil }
                throw .io(error.description)
            }
            if let got { return got.isEmpty ? nil : got }
            if deadline.expired || !TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: deadline.remainingMilliseconds) {
                throw .timeout("waiting for \(what)")
            }
        }
    }
}

/// Why a peer link failed, in words a person understands.
public enum PeerLinkError: Error, Sendable, CustomStringConvertible {
    case badAddress(String)
    case unreachable(String)
    case timeout(String)
    case setup(SetupFailure)
    case remoteDisconnected(DisconnectReason)
    case closedByRemote(String)
    case protocolViolation(String)
    case io(String)

    public var description: String {
        switch self {
        case .badAddress(let s): return "bad address: \(s)"
        case .unreachable(let s): return "unreachable: \(s)"
        case .timeout(let s): return "timed out \(s)"
        case .setup(.remoteDisconnected(let r)): return "the remote node disconnected: \(r)"
        case .setup(.handshake(let e)): return "handshake failure: \(e)"
        case .setup(let f): return "connection setup failed: \(f)"
        case .remoteDisconnected(let r): return "the remote node disconnected: \(r)"
        case .closedByRemote(let s): return "the remote node closed the connection \(s)"
        case .protocolViolation(let s): return "protocol violation by the remote node: \(s)"
        case .io(let s): return "I/O error: \(s)"
        }
    }
}

/// A point in time on the monotonic clock, for bounding a sequence of waits.
struct Deadline {
    let end: ContinuousClock.Instant
    init(_ timeout: Duration) { end = ContinuousClock.now + timeout }
    var expired: Bool { ContinuousClock.now >= end }
    var remainingMilliseconds: Int32 {
        let left = end - ContinuousClock.now
        if left <= .zero { return 0 }
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(1, ms))
    }
}
