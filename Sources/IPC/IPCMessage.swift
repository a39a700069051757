/// One message of the IPC catalogue (ipc/PROTOCOL.md), as a value. The fds a message carries
/// are not part of the value: they travel beside it (see IPCMessageType.descriptorCount).
public enum IPCMessage: Sendable, Hashable {
    // Control channel, supervisor <-> every child.
    case childReady(ChildReady)
    case heartbeat(Heartbeat)
    case attachChannel(AttachChannel)
    case configure(Configure)
    case shutdown(Shutdown)
    case peerEvent(PeerEvent)
    case controlRequest(ControlRequest)
    case controlReply(ControlReply)
    case channelLost(ChannelLost)
    case workerExited(WorkerExited)
    case connectStream(ConnectStream)
    case entryListener(EntryListener)
    // Acceptor <-> worker.
    case inboundConnection(InboundConnection)
    case handshakeSlotFreed(HandshakeSlotFreed)
    // Worker <-> peer manager.
    case checkPostHandshake(CheckPostHandshake)
    case checkAddPeer(CheckAddPeer)
    case checkVerdict(CheckVerdict)
    case peerHandoff(PeerHandoff)
    case handshakeAborted(HandshakeAborted)
    case dialRequest(DialRequest)
    case dialFailed(DialFailed)

    public var type: IPCMessageType {
        switch self {
        case .childReady: return .childReady
        case .heartbeat: return .heartbeat
        case .attachChannel: return .attachChannel
        case .configure: return .configure
        case .shutdown: return .shutdown
        case .peerEvent: return .peerEvent
        case .controlRequest: return .controlRequest
        case .controlReply: return .controlReply
        case .channelLost: return .channelLost
        case .workerExited: return .workerExited
        case .connectStream: return .connectStream
        case .entryListener: return .entryListener
        case .inboundConnection: return .inboundConnection
        case .handshakeSlotFreed: return .handshakeSlotFreed
        case .checkPostHandshake: return .checkPostHandshake
        case .checkAddPeer: return .checkAddPeer
        case .checkVerdict: return .checkVerdict
        case .peerHandoff: return .peerHandoff
        case .handshakeAborted: return .handshakeAborted
        case .dialRequest: return .dialRequest
        case .dialFailed: return .dialFailed
        }
    }

    /// The message's body fields, encoded.
    public func encodedBody() throws(IPCEncodingError) -> [UInt8] {
        var writer = IPCBodyWriter()
        switch self {
        case .childReady(let m): try m.encode(into: &writer)
        case .heartbeat(let m): try m.encode(into: &writer)
        case .attachChannel(let m): try m.encode(into: &writer)
        case .configure(let m): try m.encode(into: &writer)
        case .shutdown(let m): try m.encode(into: &writer)
        case .peerEvent(let m): try m.encode(into: &writer)
        case .controlRequest(let m): try m.encode(into: &writer)
        case .controlReply(let m): try m.encode(into: &writer)
        case .channelLost(let m): try m.encode(into: &writer)
        case .workerExited(let m): try m.encode(into: &writer)
        case .connectStream(let m): try m.encode(into: &writer)
        case .entryListener(let m): try m.encode(into: &writer)
        case .inboundConnection(let m): try m.encode(into: &writer)
        case .handshakeSlotFreed(let m): try m.encode(into: &writer)
        case .checkPostHandshake(let m): try m.encode(into: &writer)
        case .checkAddPeer(let m): try m.encode(into: &writer)
        case .checkVerdict(let m): try m.encode(into: &writer)
        case .peerHandoff(let m): try m.encode(into: &writer)
        case .handshakeAborted(let m): try m.encode(into: &writer)
        case .dialRequest(let m): try m.encode(into: &writer)
        case .dialFailed(let m): try m.encode(into: &writer)
        }
        return writer.bytes
    }

    /// Decodes a body of the given type; every byte must belong to a field.
    public static func decodeBody(type: IPCMessageType, _ body: ArraySlice<UInt8>) throws(IPCDecodingError) -> IPCMessage {
        var reader = IPCBodyReader(body)
        let message: IPCMessage
        switch type {
        case .childReady: message = .childReady(try ChildReady(from: &reader))
        case .heartbeat: message = .heartbeat(try Heartbeat(from: &reader))
        case .attachChannel: message = .attachChannel(try AttachChannel(from: &reader))
        case .configure: message = .configure(try Configure(from: &reader))
        case .shutdown: message = .shutdown(try Shutdown(from: &reader))
        case .peerEvent: message = .peerEvent(try PeerEvent(from: &reader))
        case .controlRequest: message = .controlRequest(try ControlRequest(from: &reader))
        case .controlReply: message = .controlReply(try ControlReply(from: &reader))
        case .channelLost: message = .channelLost(try ChannelLost(from: &reader))
        case .workerExited: message = .workerExited(try WorkerExited(from: &reader))
        case .connectStream: message = .connectStream(try ConnectStream(from: &reader))
        case .entryListener: message = .entryListener(try EntryListener(from: &reader))
        case .inboundConnection: message = .inboundConnection(try InboundConnection(from: &reader))
        case .handshakeSlotFreed: message = .handshakeSlotFreed(try HandshakeSlotFreed(from: &reader))
        case .checkPostHandshake: message = .checkPostHandshake(try CheckPostHandshake(from: &reader))
        case .checkAddPeer: message = .checkAddPeer(try CheckAddPeer(from: &reader))
        case .checkVerdict: message = .checkVerdict(try CheckVerdict(from: &reader))
        case .peerHandoff: message = .peerHandoff(try PeerHandoff(from: &reader))
        case .handshakeAborted: message = .handshakeAborted(try HandshakeAborted(from: &reader))
        case .dialRequest: message = .dialRequest(try DialRequest(from: &reader))
        case .dialFailed: message = .dialFailed(try DialFailed(from: &reader))
        }
        try reader.finish()
        return message
    }
}

/// What each message body does: write its fields in catalogue order, and read them back.
protocol IPCMessageBody: Sendable, Hashable {
    func encode(into writer: inout IPCBodyWriter) throws(IPCEncodingError)
    init(from reader: inout IPCBodyReader) throws(IPCDecodingError)
}
