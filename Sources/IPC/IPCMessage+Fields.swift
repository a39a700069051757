// Field types shared by several messages, with their one-byte or fixed-size encodings.

extension IPCMessage {
    /// The role of a child process (ChildReady.role, AttachChannel.neighbourRole).
    public enum Role: UInt8, Sendable, Hashable, CaseIterable {
        case acceptor = 0
        case worker = 1
        case peerManager = 2
    }

    /// Which side opened the TCP connection.
    public enum Direction: UInt8, Sendable, Hashable, CaseIterable {
        case inbound = 0
        case outbound = 1
    }

    /// A devp2p capability (name, version) from a Hello.
    public struct Capability: Sendable, Hashable {
        public var name: String
        public var version: UInt32

        public init(name: String, version: UInt32) {
            self.name = name
            self.version = version
        }
    }
}

extension IPCBodyWriter {
    mutating func writeRole(_ role: IPCMessage.Role) { writeU8(role.rawValue) }

    mutating func writeDirection(_ direction: IPCMessage.Direction) { writeU8(direction.rawValue) }

    /// A required node id: exactly 64 bytes, no prefix.
    mutating func writeNodeID(_ id: [UInt8], field: String) throws(IPCEncodingError) {
        try writeFixedBytes(id, count: IPCLimits.nodeIDLength, field: field)
    }

    /// A node id that may be unknown: u16 length 0 or 64, then the bytes.
    mutating func writeOptionalNodeID(_ id: [UInt8], field: String) throws(IPCEncodingError) {
        guard id.isEmpty || id.count == IPCLimits.nodeIDLength else {
            throw .invalidLength(field: field, length: id.count)
        }
        try writeBytes(id, field: field, bound: IPCLimits.nodeIDLength)
    }

    /// u16 count (<= IPCLimits.maxCapabilities), then (name string, version u32) each.
    mutating func writeCapabilities(_ caps: [IPCMessage.Capability], field: String) throws(IPCEncodingError) {
        try writeCount(caps.count, field: field, bound: IPCLimits.maxCapabilities)
        for cap in caps {
            try writeString(cap.name, field: field + ".name", bound: IPCLimits.maxCapabilityNameLength)
            writeU32(cap.version)
        }
    }
}

extension IPCBodyReader {
    mutating func readRole(field: String) throws(IPCDecodingError) -> IPCMessage.Role {
        let raw = try readU8(field: field)
        guard let role = IPCMessage.Role(rawValue: raw) else { throw .invalidValue(field: field, value: UInt64(raw)) }
        return role
    }

    mutating func readDirection(field: String) throws(IPCDecodingError) -> IPCMessage.Direction {
        let raw = try readU8(field: field)
        guard let direction = IPCMessage.Direction(rawValue: raw) else {
            throw .invalidValue(field: field, value: UInt64(raw))
        }
        return direction
    }

    mutating func readNodeID(field: String) throws(IPCDecodingError) -> [UInt8] {
        try readFixedBytes(count: IPCLimits.nodeIDLength, field: field)
    }

    mutating func readOptionalNodeID(field: String) throws(IPCDecodingError) -> [UInt8] {
        let id = try readBytes(field: field, bound: IPCLimits.nodeIDLength)
        guard id.isEmpty || id.count == IPCLimits.nodeIDLength else {
            throw .invalidLength(field: field, length: id.count)
        }
        return id
    }

    mutating func readCapabilities(field: String) throws(IPCDecodingError) -> [IPCMessage.Capability] {
        let count = try readCount(field: field, bound: IPCLimits.maxCapabilities)
        var caps: [IPCMessage.Capability] = []
        caps.reserveCapacity(count)
        for _ in 0..<count {
            let name = try readString(field: field + ".name", bound: IPCLimits.maxCapabilityNameLength)
            let version = try readU32(field: field + ".version")
            caps.append(IPCMessage.Capability(name: name, version: version))
        }
        return caps
    }
}
