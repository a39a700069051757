/// A sub-protocol this node runs: its capability and how many message ids it uses
/// (go-ethereum `p2p.Protocol`'s Name, Version and Length).
public struct LocalProtocol: Hashable, Sendable {
    public var capability: Capability
    public var length: UInt64

    public init(capability: Capability, length: UInt64) {
        self.capability = capability
        self.length = length
    }
}

/// One capability both peers run, with the message ids it occupies on this link:
/// `offset ..< offset + length`.
public struct SharedCapability: Hashable, Sendable {
    public var capability: Capability
    public var offset: UInt64
    public var length: UInt64

    public init(capability: Capability, offset: UInt64, length: UInt64) {
        self.capability = capability
        self.offset = offset
        self.length = length
    }

    public func contains(messageID: UInt64) -> Bool {
        messageID >= offset && messageID - offset < length
    }
}

/// The capabilities two peers share and their message-id ranges, matched as go-ethereum's
/// `matchProtocols` does: the remote's capabilities sorted by name then version, for each name
/// the highest version both run, offsets from 0x10 (after the base protocol) in name order,
/// each taking its protocol's length.
public struct SharedCapabilities: Equatable, Sendable {
    /// In name order, which is also message-id order.
    public let protocols: [SharedCapability]

    public init(local: [LocalProtocol], remote: [Capability]) {
        var matched: [SharedCapability] = []
        var offset = BaseProtocol.length
        for capability in remote.sorted(by: Capability.precedes) {
            guard let mine = local.first(where: { $0.capability == capability }) else { continue }
            // Sorting puts a name's versions together, lowest first: a later, higher match of
            // the same name replaces the earlier one and takes back its ids.
            if let previous = matched.last, previous.capability.name == capability.name {
                offset -= previous.length
                matched.removeLast()
            }
            matched.append(SharedCapability(capability: capability, offset: offset, length: mine.length))
            offset += mine.length
        }
        protocols = matched
    }

    /// No shared capability: go-ethereum disconnects with DiscUselessPeer.
    public var isEmpty: Bool { protocols.isEmpty }

    /// The shared capability that owns `messageID`, and the id relative to its offset.
    public func capability(forMessageID messageID: UInt64) -> (SharedCapability, relativeID: UInt64)? {
        guard let shared = protocols.first(where: { $0.contains(messageID: messageID) }) else { return nil }
        return (shared, messageID - shared.offset)
    }

    /// The shared capability called `name`, if both peers run it.
    public func capability(named name: String) -> SharedCapability? {
        protocols.first { $0.capability.name == name }
    }
}
