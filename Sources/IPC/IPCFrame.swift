/// A message with its request id: what one record on an IPC socket carries (the fds ride
/// beside it, as SCM_RIGHTS on the same record).
public struct IPCFrame: Sendable, Hashable {
    public var message: IPCMessage
    /// 0 unless the message type is a request or reply (IPCMessageType.requestIDRule).
    public var requestID: UInt32

    public init(_ message: IPCMessage, requestID: UInt32 = 0) {
        self.message = message
        self.requestID = requestID
    }

    /// Header + body. The header declares the type's fd count (IPCMessageType.descriptorCount);
    /// the sender attaches exactly that many fds to the record.
    public func encoded() throws(IPCEncodingError) -> [UInt8] {
        let type = message.type
        guard type.allowsRequestID(requestID) else {
            throw .requestIDMisuse(type: type, requestID: requestID)
        }
        let body = try message.encodedBody()
        // Every field is bounded, and the bounds add up to less than the body bound
        // (IPCLimits.maxBodyLength); this holds the catalogue to that.
        precondition(body.count <= IPCLimits.maxBodyLength, "\(type.name) body exceeds the IPC body bound")
        let fds = UInt8(type.descriptorCount)
        let header = IPCFrameHeader(
            type: type.rawValue,
            flags: fds == 0 ? 0 : IPCFrameHeader.descriptorsAttached,
            descriptorCount: fds,
            bodyLength: UInt32(body.count),
            requestID: requestID)
        return header.encoded + body
    }

    /// Validates and decodes one record. `receivedDescriptors` is how many fds arrived with the
    /// record; the fds themselves stay with the caller, which closes them if this throws.
    ///
    /// Checks, in order: header (IPCFrameHeader.parse), record length against the declared
    /// body length, type, fd count against the received fds and against the type, request id,
    /// then the body field by field, with no bytes left over.
    public static func decode(_ record: ArraySlice<UInt8>, receivedDescriptors: Int) throws(IPCDecodingError) -> IPCFrame {
        let header = try IPCFrameHeader.parse(record)
        let actualBody = record.count - IPCLimits.headerSize
        guard Int(header.bodyLength) == actualBody else {
            throw .lengthMismatch(declared: header.bodyLength, actual: actualBody)
        }
        guard let type = IPCMessageType(rawValue: header.type) else { throw .unknownMessageType(header.type) }
        let declared = Int(header.descriptorCount)
        guard declared == receivedDescriptors else {
            throw .descriptorCountMismatch(declared: declared, received: receivedDescriptors)
        }
        guard declared == type.descriptorCount else {
            throw .unexpectedDescriptors(type: type, expected: type.descriptorCount, declared: declared)
        }
        guard type.allowsRequestID(header.requestID) else {
            throw .requestIDMisuse(type: type, requestID: header.requestID)
        }
        let body = record.dropFirst(IPCLimits.headerSize)
        return IPCFrame(try IPCMessage.decodeBody(type: type, body), requestID: header.requestID)
    }

    public static func decode(_ record: [UInt8], receivedDescriptors: Int) throws(IPCDecodingError) -> IPCFrame {
        try decode(record[...], receivedDescriptors: receivedDescriptors)
    }
}
