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
        // An initiator's first bytes from the remote should be its auth-ack. Until the handshake
        // is done they are kept (a short prefix), so a failure can say what answered instead.
        let initiating: Bool
        if case .initiator = role { initiating = true } else { initiating = false }
        var beforeAck: [UInt8] = []
        var awaitingAck: Bool { initiating && setup.remoteNodeID == nil }
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
                    if case .handshake = failure, initiating, !beforeAck.isEmpty { throw .notAuthAck(beforeAck) }
                    throw .setup(failure)
                }
            }
            let read: [UInt8]?
            do { read = try readSome(fd, deadline: deadline, what: awaitingAck ? "the auth-ack" : "the handshake") } catch {
                if awaitingAck, case .timeout = error { throw beforeAck.isEmpty ? .noAuthAck(closed: false) : .notAuthAck(beforeAck) }
                throw error
            }
            guard let bytes = read else {
                if awaitingAck { throw beforeAck.isEmpty ? .noAuthAck(closed: true) : .notAuthAck(beforeAck) }
                throw .closedByRemote("during the handshake")
            }
            if awaitingAck && beforeAck.count < AuthAckReply.keptBytes {
                beforeAck += bytes.prefix(AuthAckReply.keptBytes - beforeAck.count)
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
    /// The remote accepted the connection but sent nothing before it hung up (`closed`) or the
    /// deadline passed: no auth-ack.
    case noAuthAck(closed: Bool)
    /// The remote's first bytes (a prefix) are not an RLPx auth-ack.
    case notAuthAck([UInt8])

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
        case .noAuthAck(closed: true):
            return "the remote node closed the connection before sending its auth-ack. Hint: the node ID in the enode URL may be "
                + "wrong: the auth message is encrypted to that ID's key, and a node with another key cannot read it and hangs up "
                + "(or the node refused this address before the handshake: its peer limits, throttle or netrestrict)"
        case .noAuthAck(closed: false):
            return "timed out waiting for the auth-ack: the remote accepted the connection but never answered. Hint: it may not "
                + "be an RLPx node, or the node ID in the enode URL may be wrong (a node that cannot read the auth message "
                + "does not answer it)"
        case .notAuthAck(let bytes): return AuthAckReply.describe(bytes)
        }
    }
}

/// Naming what answered an RLPx dial with something other than an auth-ack.
public enum AuthAckReply {
    /// How much of the reply is kept for the message.
    static let keptBytes = 64
    /// How much of it the message shows.
    static let shownBytes = 24

    /// The protocol whose greeting `bytes` starts with, if it is a well-known one.
    public static func protocolName(of bytes: [UInt8]) -> String? {
        if bytes.starts(with: Array("HTTP/".utf8)) { return "HTTP" }
        if bytes.starts(with: Array("SSH-".utf8)) { return "SSH" }
        // A TLS record: alert (0x15) or handshake (0x16), protocol version 3.x (SSL 3.0 to TLS 1.3).
        if bytes.count >= 2, bytes[0] == 0x15 || bytes[0] == 0x16, bytes[1] == 0x03 { return "TLS" }
        return nil
    }

    /// "the remote sent HTTP: not an RLPx node", or the reply's first bytes when it is nothing known.
    public static func describe(_ bytes: [UInt8]) -> String {
        if let name = protocolName(of: bytes) {
            return "the remote sent \(name): not an RLPx node (first bytes: \(printable(bytes)))"
        }
        return "the remote's reply is not an RLPx auth-ack: first bytes \(printable(bytes)) (hex \(hex(bytes)))"
    }

    /// The first bytes as text, non-printable ones escaped, quoted.
    static func printable(_ bytes: [UInt8]) -> String {
        var s = ""
        for b in bytes.prefix(shownBytes) {
            switch b {
            case 0x0a: s += "\\n"
            case 0x0d: s += "\\r"
            case 0x22: s += "\\\""
            case 0x5c: s += "\\\\"
            case 0x20...0x7e: s.unicodeScalars.append(Unicode.Scalar(b))
            default: s += "\\x" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
            }
        }
        return "\"" + s + (bytes.count > shownBytes ? "…" : "") + "\""
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.prefix(shownBytes).map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            + (bytes.count > shownBytes ? " …" : "")
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
