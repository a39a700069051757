import RLPxFrame
import RLPxHandshake
import Secp256k1

/// Everything between a fresh TCP connection and a live devp2p peer, for either role, without
/// I/O: the RLPx handshake, go-ethereum's two checkpoints (SetupConn's post-handshake and
/// add-peer questions), and the Hello exchange. A driver feeds it socket bytes and verdicts and
/// carries out the events it returns; the handshake worker drives it from a poll loop with IPC
/// checkpoints, `stockade ping` from a blocking socket.
///
/// Order (go-ethereum server.go SetupConn): handshake → post-handshake check → Hello exchange →
/// identity checks → add-peer check → established. A rejected check sends Disconnect(reason).
/// Every byte the peer sent past its Hello stays in the established session's frame decoder.
public struct ConnectionSetup: Sendable {
    public enum Role: Sendable {
        case initiator(remote: PublicKey)
        case responder
    }

    /// What a checkpoint decided: go on, or refuse the peer with a devp2p reason.
    public enum Verdict: Sendable, Equatable {
        case accept
        case reject(DisconnectReason)
    }

    public enum Event: Sendable {
        /// Write these bytes to the peer (in order, before acting on later events).
        case send([UInt8])
        /// The encryption handshake is done: ask the post-handshake question, then call
        /// `resolvePostHandshake`.
        case checkPostHandshake(remoteID: PublicKey)
        /// The peer's Hello passed the identity checks: ask the add-peer question, then call
        /// `resolveAddPeer`.
        case checkAddPeer(Hello)
        /// The peer is live: hand the session over. No more events follow.
        case established(EstablishedSession)
        /// The setup is over without a peer: flush any `.send` before this, then close.
        case failed(SetupFailure)
    }

    /// Bytes the peer may send before the setup ends (past the handshake, not yet consumed):
    /// bounds memory per handshake and matches the IPC handoff's 16 KiB for bytes past Hello.
    public static let maximumPendingBytes = 16 * 1024

    private enum State {
        case handshake
        case awaitingPostHandshakeVerdict
        case awaitingHello
        case awaitingAddPeerVerdict(Hello)
        case done
    }

    private let role: Role
    private let staticKey: PrivateKey
    private let localHello: Hello
    private var state: State = .handshake
    private var initiator: HandshakeInitiator?
    private var responder: HandshakeResponder?
    private var handshakeBuffer: [UInt8] = []
    private var remoteID: PublicKey?
    private var codec: FrameCodec?
    private var messages = MessageCodec()

    /// - Parameter localHello: the Hello to send; its node ID must be `staticKey`'s.
    public init(role: Role, staticKey: PrivateKey, localHello: Hello,
                randomness: HandshakeRandomness = .system()) throws(SetupFailure) {
        self.role = role
        self.staticKey = staticKey
        self.localHello = localHello
        switch role {
        case .initiator(let remote):
            do { initiator = try HandshakeInitiator(staticKey: staticKey, remotePublicKey: remote, randomness: randomness) }
            catch { throw .handshake(error) }
        case .responder:
            responder = HandshakeResponder(staticKey: staticKey, randomness: randomness)
        }
    }

    /// The first bytes to send: the auth packet for an initiator, nothing for a responder.
    public func start() -> [Event] {
        if let initiator { return [.send(initiator.authPacket)] }
        return []
    }

    /// The remote node ID, once the encryption handshake is done.
    public var remoteNodeID: PublicKey? { remoteID }

    /// Feeds bytes read from the peer.
    public mutating func receive(_ bytes: [UInt8]) -> [Event] {
        switch state {
        case .handshake:
            handshakeBuffer += bytes
            return advanceHandshake()
        case .awaitingPostHandshakeVerdict, .awaitingAddPeerVerdict:
            // Keep the bytes in the frame decoder, unread, until the verdict.
            codec?.feed(bytes)
            return overflowCheck()
        case .awaitingHello:
            codec?.feed(bytes)
            if let overflow = overflowCheck().first { return [overflow] }
            return readHello()
        case .done:
            return []
        }
    }

    public mutating func resolvePostHandshake(_ verdict: Verdict) -> [Event] {
        guard case .awaitingPostHandshakeVerdict = state else { return [] }
        if case .reject(let reason) = verdict { return refuse(reason, failure: .rejected(reason)) }
        state = .awaitingHello
        var events: [Event] = []
        do {
            events.append(.send(try encodeFrame(.hello(localHello))))
        } catch {
            return fail(error)
        }
        return events + readHello()
    }

    public mutating func resolveAddPeer(_ verdict: Verdict) -> [Event] {
        guard case .awaitingAddPeerVerdict(let hello) = state, let codec, let remoteID else { return [] }
        if case .reject(let reason) = verdict { return refuse(reason, failure: .rejected(reason)) }
        state = .done
        var live = codec
        live.decoder.maximumFrameSize = BaseProtocol.maximumFrameSize
        return [.established(EstablishedSession(remoteID: remoteID, localHello: localHello, remoteHello: hello,
                                                codec: live, messages: messages))]
    }

    /// The driver gave up (deadline, I/O error): the Disconnect to send if the session allows one.
    public mutating func abandon(_ reason: DisconnectReason, failure: SetupFailure) -> [Event] {
        if case .done = state { return [] }
        return refuse(reason, failure: failure)
    }

    // MARK: steps

    private mutating func advanceHandshake() -> [Event] {
        do {
            if var hs = responder {
                let progress = try hs.receiveAuth(handshakeBuffer)
                responder = hs
                guard case .done(let outcome, let used) = progress else { return [] }
                return handshakeDone(outcome.result, leftover: Array(handshakeBuffer[used...]), send: outcome.ackPacket)
            }
            if var hs = initiator {
                let progress = try hs.receiveAck(handshakeBuffer)
                initiator = hs
                guard case .done(let result, let used) = progress else { return [] }
                return handshakeDone(result, leftover: Array(handshakeBuffer[used...]), send: nil)
            }
        } catch {
            state = .done
            return [.failed(.handshake(error))]
        }
        return []
    }

    private mutating func handshakeDone(_ result: HandshakeResult, leftover: [UInt8], send ack: [UInt8]?) -> [Event] {
        handshakeBuffer = []
        responder = nil
        initiator = nil
        remoteID = result.remotePublicKey
        var c = FrameCodec(secrets: result.secrets, maximumIncomingFrameSize: BaseProtocol.maximumPreHelloFrameSize)
        c.feed(leftover)
        codec = c
        state = .awaitingPostHandshakeVerdict
        var events: [Event] = []
        if let ack { events.append(.send(ack)) }
        events.append(.checkPostHandshake(remoteID: result.remotePublicKey))
        return events + overflowCheck()
    }

    private mutating func readHello() -> [Event] {
        guard var c = codec, let remoteID else { return [] }
        let frame: [UInt8]?
        do { frame = try c.nextFrame() } catch {
            codec = c
            return refuse(.protocolError, failure: .frame(error))
        }
        codec = c
        guard let frame else { return [] }
        let message: BaseProtocolMessage?
        do {
            message = try BaseProtocolMessage.decode(try messages.decode(frame))
        } catch let e as HelloError {
            return refuse(e.disconnectReason, failure: .hello(e))
        } catch {
            return refuse(.protocolError, failure: .protocolViolation("undecodable first message: \(error)"))
        }
        switch message {
        case .hello(let hello):
            // go-ethereum: the Hello's ID must be the key the handshake authenticated.
            guard hello.nodeID == remoteID.raw64 else {
                return refuse(.unexpectedIdentity, failure: .unexpectedIdentity)
            }
            messages.negotiate(localHello: localHello, remoteHello: hello)
            state = .awaitingAddPeerVerdict(hello)
            return [.checkAddPeer(hello)]
        case .disconnect(let reason):
            state = .done
            return [.failed(.remoteDisconnected(reason))]
        default:
            return refuse(.protocolError, failure: .protocolViolation("expected Hello, got message 0x\(String(frame.first ?? 0, radix: 16))"))
        }
    }

    private mutating func overflowCheck() -> [Event] {
        guard let c = codec, c.decoder.bufferedByteCount > Self.maximumPendingBytes else { return [] }
        return refuse(.protocolError, failure: .protocolViolation("more than \(Self.maximumPendingBytes) bytes sent before the peer was accepted"))
    }

    /// Sends Disconnect(reason) when the session is encrypted, then fails.
    private mutating func refuse(_ reason: DisconnectReason, failure: SetupFailure) -> [Event] {
        var events: [Event] = []
        if codec != nil, let bytes = try? encodeFrame(.disconnect(reason)) { events.append(.send(bytes)) }
        state = .done
        events.append(.failed(failure))
        return events
    }

    private mutating func fail(_ error: any Error) -> [Event] {
        state = .done
        return [.failed(.protocolViolation("\(error)"))]
    }

    private mutating func encodeFrame(_ message: BaseProtocolMessage) throws -> [UInt8] {
        guard var c = codec else { throw SetupFailure.protocolViolation("no session") }
        let bytes = try c.encode(try messages.encode(message.message))
        codec = c
        return bytes
    }
}

/// A devp2p session that passed every check: the framing state (with every byte read past the
/// peer's Hello still buffered in its decoder), both Hellos and the negotiated message codec.
public struct EstablishedSession: Sendable {
    public let remoteID: PublicKey
    public let localHello: Hello
    public let remoteHello: Hello
    public var codec: FrameCodec
    public var messages: MessageCodec
}

/// Why a connection did not become a peer, in words for logs and `stockade ping`.
public enum SetupFailure: Error, Sendable, CustomStringConvertible {
    case handshake(HandshakeError)
    case frame(FrameError)
    case hello(HelloError)
    case unexpectedIdentity
    case remoteDisconnected(DisconnectReason)
    case rejected(DisconnectReason)
    case protocolViolation(String)
    case timeout
    case io(String)

    public var description: String {
        switch self {
        case .handshake(let e): return "handshake failed: \(e)"
        case .frame(let e): return "bad frame from peer: \(e)"
        case .hello(let e): return "bad Hello from peer: \(e)"
        case .unexpectedIdentity: return "peer's Hello carries a node ID other than the one it authenticated"
        case .remoteDisconnected(let r): return "remote disconnected: \(r)"
        case .rejected(let r): return "refused by this node: \(r)"
        case .protocolViolation(let s): return "protocol violation: \(s)"
        case .timeout: return "timed out"
        case .io(let s): return s
        }
    }
}
