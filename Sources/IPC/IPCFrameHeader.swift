/// The fixed 12-byte header in front of every body, big-endian:
///
///     0 version u8 | 1 type u8 | 2 flags u8 | 3 fd count u8 | 4..7 body length u32 | 8..11 request id u32
public struct IPCFrameHeader: Sendable, Hashable {
    /// Flag bit 0: fds are attached to this record. Every other bit is reserved and must be 0.
    public static let descriptorsAttached: UInt8 = 0x01

    public var version: UInt8
    /// The raw type byte (it may name no known type until the frame is validated).
    public var type: UInt8
    public var flags: UInt8
    public var descriptorCount: UInt8
    public var bodyLength: UInt32
    public var requestID: UInt32

    public init(version: UInt8 = IPCLimits.protocolVersion, type: UInt8, flags: UInt8,
                descriptorCount: UInt8, bodyLength: UInt32, requestID: UInt32) {
        self.version = version
        self.type = type
        self.flags = flags
        self.descriptorCount = descriptorCount
        self.bodyLength = bodyLength
        self.requestID = requestID
    }

    public var encoded: [UInt8] {
        var w = IPCBodyWriter()
        w.writeU8(version)
        w.writeU8(type)
        w.writeU8(flags)
        w.writeU8(descriptorCount)
        w.writeU32(bodyLength)
        w.writeU32(requestID)
        return w.bytes
    }

    /// Reads the header of a record and checks everything the header alone can show: version,
    /// flags, fd count, body bound. The record length and the type are checked by IPCFrame.
    public static func parse(_ record: ArraySlice<UInt8>) throws(IPCDecodingError) -> IPCFrameHeader {
        guard record.count >= IPCLimits.headerSize else { throw .truncatedHeader(recordLength: record.count) }
        var r = IPCBodyReader(record.prefix(IPCLimits.headerSize))
        let header = IPCFrameHeader(
            version: try r.readU8(field: "header.version"),
            type: try r.readU8(field: "header.type"),
            flags: try r.readU8(field: "header.flags"),
            descriptorCount: try r.readU8(field: "header.fdCount"),
            bodyLength: try r.readU32(field: "header.bodyLength"),
            requestID: try r.readU32(field: "header.requestID"))
        guard header.version == IPCLimits.protocolVersion else { throw .unsupportedVersion(header.version) }
        guard header.flags & ~descriptorsAttached == 0 else { throw .reservedFlagBits(flags: header.flags) }
        guard Int(header.descriptorCount) <= IPCLimits.maxDescriptorsPerFrame else {
            throw .tooManyDescriptors(count: header.descriptorCount)
        }
        guard (header.flags & descriptorsAttached != 0) == (header.descriptorCount != 0) else {
            throw .descriptorFlagMismatch(flags: header.flags, count: header.descriptorCount)
        }
        guard header.bodyLength <= UInt32(IPCLimits.maxBodyLength) else {
            throw .bodyTooLarge(declared: header.bodyLength)
        }
        return header
    }
}
