/// The processes that talk IPC (ARCHITECTURE.md, "Processes").
public enum IPCEndpoint: Sendable, Hashable, CaseIterable {
    case supervisor
    case acceptor
    case worker
    case peerManager
}

/// The type byte of a frame, with what the catalogue (ipc/PROTOCOL.md) says about each type:
/// who sends it to whom, how many fds ride with it, and whether it uses the request id.
public enum IPCMessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    // Control channel, supervisor <-> every child.
    case childReady = 0x01
    case heartbeat = 0x02
    case attachChannel = 0x03
    case configure = 0x04
    case shutdown = 0x05
    case peerEvent = 0x06
    case controlRequest = 0x07
    case controlReply = 0x08
    case channelLost = 0x09
    case workerExited = 0x0a
    case connectStream = 0x0b
    case entryListener = 0x0c
    // Acceptor <-> worker.
    case inboundConnection = 0x10
    case handshakeSlotFreed = 0x11
    // Worker <-> peer manager.
    case checkPostHandshake = 0x20
    case checkAddPeer = 0x21
    case checkVerdict = 0x22
    case peerHandoff = 0x23
    case handshakeAborted = 0x24
    case dialRequest = 0x25
    case dialFailed = 0x26

    /// How a message type uses the header's request id.
    public enum RequestIDRule: Sendable {
        /// The request id must be 0.
        case none
        /// A question: the sender picks a non-zero id, unique among its outstanding questions.
        case request
        /// An answer: carries the non-zero id of the question it answers.
        case reply
    }

    /// The catalogue name, as written in ipc/PROTOCOL.md.
    public var name: String {
        switch self {
        case .childReady: return "ChildReady"
        case .heartbeat: return "Heartbeat"
        case .attachChannel: return "AttachChannel"
        case .configure: return "Configure"
        case .shutdown: return "Shutdown"
        case .peerEvent: return "PeerEvent"
        case .controlRequest: return "ControlRequest"
        case .controlReply: return "ControlReply"
        case .channelLost: return "ChannelLost"
        case .workerExited: return "WorkerExited"
        case .connectStream: return "ConnectStream"
        case .entryListener: return "EntryListener"
        case .inboundConnection: return "InboundConnection"
        case .handshakeSlotFreed: return "HandshakeSlotFreed"
        case .checkPostHandshake: return "CheckPostHandshake"
        case .checkAddPeer: return "CheckAddPeer"
        case .checkVerdict: return "CheckVerdict"
        case .peerHandoff: return "PeerHandoff"
        case .handshakeAborted: return "HandshakeAborted"
        case .dialRequest: return "DialRequest"
        case .dialFailed: return "DialFailed"
        }
    }

    public var description: String { name }

    /// The exact number of fds a frame of this type carries.
    public var descriptorCount: Int {
        switch self {
        case .attachChannel, .inboundConnection, .peerHandoff, .connectStream, .entryListener: return 1
        default: return 0
        }
    }

    public var requestIDRule: RequestIDRule {
        switch self {
        case .checkPostHandshake, .checkAddPeer, .controlRequest: return .request
        case .checkVerdict, .controlReply: return .reply
        default: return .none
        }
    }

    /// Whether `requestID` is allowed for this type by its rule.
    public func allowsRequestID(_ requestID: UInt32) -> Bool {
        requestIDRule == .none ? requestID == 0 : requestID != 0
    }

    private static let children: Set<IPCEndpoint> = [.acceptor, .worker, .peerManager]

    /// The processes that may send this type.
    public var senders: Set<IPCEndpoint> {
        switch self {
        case .childReady, .heartbeat: return Self.children
        case .attachChannel, .configure, .shutdown: return [.supervisor]
        case .peerEvent, .controlReply: return [.peerManager]
        case .controlRequest: return [.supervisor]
        case .channelLost: return [.worker]
        case .workerExited, .connectStream, .entryListener: return [.supervisor]
        case .inboundConnection: return [.acceptor]
        case .handshakeSlotFreed: return [.worker]
        case .checkPostHandshake, .checkAddPeer, .peerHandoff, .handshakeAborted, .dialFailed:
            return [.worker]
        case .checkVerdict, .dialRequest: return [.peerManager]
        }
    }

    /// The processes that may receive this type.
    public var receivers: Set<IPCEndpoint> {
        switch self {
        case .childReady, .heartbeat, .peerEvent, .controlReply: return [.supervisor]
        case .controlRequest, .connectStream, .entryListener: return [.peerManager]
        case .channelLost: return [.supervisor]
        case .workerExited: return [.acceptor]
        case .attachChannel, .configure, .shutdown: return Self.children
        case .inboundConnection: return [.worker]
        case .handshakeSlotFreed: return [.acceptor]
        case .checkPostHandshake, .checkAddPeer, .peerHandoff, .handshakeAborted, .dialFailed:
            return [.peerManager]
        case .checkVerdict, .dialRequest: return [.worker]
        }
    }

    /// The types `receiver` may get from `sender`: what a channel between them should accept.
    public static func types(from sender: IPCEndpoint, to receiver: IPCEndpoint) -> Set<IPCMessageType> {
        Set(allCases.filter { $0.senders.contains(sender) && $0.receivers.contains(receiver) })
    }
}
