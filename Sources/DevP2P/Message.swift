/// One devp2p message: an id (base protocol 0x00..0x0f, capabilities from 0x10) and its
/// payload (RLP, uncompressed), as go-ethereum's `p2p.Msg` carries it.
public struct Message: Equatable, Sendable {
    public var id: UInt64
    public var payload: [UInt8]

    public init(id: UInt64, payload: [UInt8]) {
        self.id = id
        self.payload = payload
    }
}
