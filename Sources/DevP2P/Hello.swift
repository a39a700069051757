import RLP

/// The base protocol's handshake message, 0x00 (devp2p rlpx.md "Hello"; go-ethereum
/// `protoHandshake`):
///
///     [protocolVersion, clientId, [[cap-name, cap-version], ...], listenPort, nodeId, ...]
///
/// Elements after nodeId are ignored for forward compatibility (EIP-8), as are bytes after
/// the list, as go-ethereum's stream decoder does.
public struct Hello: Equatable, Sendable {
    public var protocolVersion: UInt64
    public var clientID: String
    public var capabilities: [Capability]
    public var listenPort: UInt64
    /// The 64-byte uncompressed secp256k1 public key without its 0x04 prefix.
    public var nodeID: [UInt8]

    /// Node IDs are 64-byte public keys (go-ethereum checks `len(hs.ID) != 64`).
    public static let nodeIDLength = 64

    public init(protocolVersion: UInt64 = BaseProtocol.version, clientID: String, capabilities: [Capability],
                listenPort: UInt64, nodeID: [UInt8]) {
        self.protocolVersion = protocolVersion
        self.clientID = clientID
        self.capabilities = capabilities
        self.listenPort = listenPort
        self.nodeID = nodeID
    }

    /// The message payload (RLP list), without the message id.
    public func encode() -> [UInt8] {
        RLP.encode(.list([
            .uint(protocolVersion),
            .string(clientID),
            .list(capabilities.map(\.rlpItem)),
            .uint(listenPort),
            .bytes(nodeID),
        ]))
    }

    /// Decodes and validates a received Hello payload. The size is checked before any
    /// decoding; a node ID that is not 64 non-zero bytes is `.invalidIdentity`.
    public static func decode(_ payload: [UInt8]) throws(HelloError) -> Hello {
        guard payload.count <= BaseProtocol.maximumMessageSize else {
            throw .tooLarge(size: payload.count, limit: BaseProtocol.maximumMessageSize)
        }
        let item: RLPItem
        do {
            (item, _) = try RLP.decodePrefix(payload)
        } catch {
            throw .rlp(error)
        }
        guard let fields = item.listValue else { throw .malformed(field: "hello (not a list)") }
        guard fields.count >= 5 else { throw .malformed(field: "hello (\(fields.count) of 5 fields)") }

        let version = try uint(fields[0], "protocolVersion")
        guard let name = fields[1].bytesValue else { throw .malformed(field: "clientId") }
        guard let capabilityItems = fields[2].listValue else { throw .malformed(field: "capabilities") }
        var capabilities: [Capability] = []
        capabilities.reserveCapacity(capabilityItems.count)
        for c in capabilityItems { capabilities.append(try Capability(rlpItem: c)) }
        let port = try uint(fields[3], "listenPort")
        guard let id = fields[4].bytesValue else { throw .malformed(field: "nodeId") }
        guard id.count == nodeIDLength, id.contains(where: { $0 != 0 }) else { throw .invalidIdentity }

        // The client ID is display text; go-ethereum keeps arbitrary bytes, so invalid UTF-8 is
        // replaced rather than refused.
        return Hello(protocolVersion: version, clientID: String(decoding: name, as: UTF8.self),
                     capabilities: capabilities, listenPort: port, nodeID: id)
    }

    private static func uint(_ item: RLPItem, _ field: String) throws(HelloError) -> UInt64 {
        do { return try item.uintValue() } catch { throw .malformed(field: field) }
    }
}
