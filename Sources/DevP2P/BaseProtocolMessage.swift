/// The four base protocol messages a peer link handles itself (devp2p rlpx.md).
public enum BaseProtocolMessage: Equatable, Sendable {
    case hello(Hello)
    case disconnect(DisconnectReason)
    case ping
    case pong

    public var id: UInt64 {
        switch self {
        case .hello: return BaseProtocol.MessageID.hello
        case .disconnect: return BaseProtocol.MessageID.disconnect
        case .ping: return BaseProtocol.MessageID.ping
        case .pong: return BaseProtocol.MessageID.pong
        }
    }

    /// The message to hand to `MessageCodec.encode`. Ping and Pong carry an empty list, as
    /// go-ethereum sends them.
    public var message: Message {
        switch self {
        case .hello(let hello): return Message(id: id, payload: hello.encode())
        case .disconnect(let reason): return Message(id: id, payload: reason.encodePayload())
        case .ping, .pong: return Message(id: id, payload: [0xc0])
        }
    }

    /// The base protocol message `message` is, or nil when its id is not one of the four
    /// (ids 0x04..0x0f are reserved and ignored by go-ethereum; 0x10 and up are capabilities).
    /// Only Hello can fail; Disconnect is decoded leniently and Ping/Pong payloads are ignored,
    /// all as go-ethereum does.
    public static func decode(_ message: Message) throws(HelloError) -> BaseProtocolMessage? {
        switch message.id {
        case BaseProtocol.MessageID.hello: return .hello(try Hello.decode(message.payload))
        case BaseProtocol.MessageID.disconnect: return .disconnect(DisconnectReason.decode(payload: message.payload))
        case BaseProtocol.MessageID.ping: return .ping
        case BaseProtocol.MessageID.pong: return .pong
        default: return nil
        }
    }
}
