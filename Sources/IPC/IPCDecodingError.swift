/// Everything a received frame can be wrong about. Any of these means the sending process is
/// broken: the receiver closes the channel (and every fd that came with the frame).
public enum IPCDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The record is shorter than the 12-byte header.
    case truncatedHeader(recordLength: Int)
    /// The header's version byte is not IPCLimits.protocolVersion.
    case unsupportedVersion(UInt8)
    /// Flag bits other than bit 0 (fds attached) are set.
    case reservedFlagBits(flags: UInt8)
    /// The header's fd count exceeds IPCLimits.maxDescriptorsPerFrame.
    case tooManyDescriptors(count: UInt8)
    /// Bit 0 of the flags and the fd count disagree (bit 0 must be set iff the count is not 0).
    case descriptorFlagMismatch(flags: UInt8, count: UInt8)
    /// The header's body length exceeds IPCLimits.maxBodyLength.
    case bodyTooLarge(declared: UInt32)
    /// The header's body length does not match the bytes the record actually holds.
    case lengthMismatch(declared: UInt32, actual: Int)
    /// The type byte names no message of the catalogue.
    case unknownMessageType(UInt8)
    /// The header's fd count differs from the number of fds that arrived with the record.
    case descriptorCountMismatch(declared: Int, received: Int)
    /// The message type carries a fixed number of fds and the frame declares another number.
    case unexpectedDescriptors(type: IPCMessageType, expected: Int, declared: Int)
    /// A request or reply arrived with request id 0, or another message with a non-zero one.
    case requestIDMisuse(type: IPCMessageType, requestID: UInt32)
    /// The body ended inside a field.
    case truncatedBody(field: String)
    /// A length-prefixed field is longer than its bound.
    case fieldTooLong(field: String, length: Int, bound: Int)
    /// A fixed- or restricted-length field has a length it may not have.
    case invalidLength(field: String, length: Int)
    /// A list has more entries than its bound.
    case tooManyEntries(field: String, count: Int, bound: Int)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// An address field is not a textual IPv4 or IPv6 address.
    case invalidAddress(field: String)
    /// An enumerated or boolean field holds a value outside its set.
    case invalidValue(field: String, value: UInt64)
    /// Bytes are left after the last field of the body.
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case .truncatedHeader(let n):
            return "IPC record of \(n) bytes is shorter than the \(IPCLimits.headerSize)-byte header"
        case .unsupportedVersion(let v):
            return "IPC frame has version \(v), this build speaks \(IPCLimits.protocolVersion)"
        case .reservedFlagBits(let f):
            return "IPC frame sets reserved flag bits (flags 0x\(String(f, radix: 16)))"
        case .tooManyDescriptors(let c):
            return "IPC frame declares \(c) fds, at most \(IPCLimits.maxDescriptorsPerFrame) are allowed"
        case .descriptorFlagMismatch(let f, let c):
            return "IPC frame flags 0x\(String(f, radix: 16)) disagree with its fd count \(c)"
        case .bodyTooLarge(let d):
            return "IPC frame declares a body of \(d) bytes, the bound is \(IPCLimits.maxBodyLength)"
        case .lengthMismatch(let d, let a):
            return "IPC frame declares a body of \(d) bytes but the record holds \(a)"
        case .unknownMessageType(let t):
            return "IPC frame has unknown message type 0x\(String(t, radix: 16))"
        case .descriptorCountMismatch(let d, let r):
            return "IPC frame declares \(d) fds but \(r) arrived with it"
        case .unexpectedDescriptors(let t, let e, let d):
            return "IPC \(t.name) carries \(e) fds, the frame declares \(d)"
        case .requestIDMisuse(let t, let id):
            return t.requestIDRule == .none
                ? "IPC \(t.name) must have request id 0, has \(id)"
                : "IPC \(t.name) needs a non-zero request id"
        case .truncatedBody(let f):
            return "IPC body ends inside field \(f)"
        case .fieldTooLong(let f, let l, let b):
            return "IPC field \(f) is \(l) bytes, the bound is \(b)"
        case .invalidLength(let f, let l):
            return "IPC field \(f) may not be \(l) bytes long"
        case .tooManyEntries(let f, let c, let b):
            return "IPC list \(f) has \(c) entries, the bound is \(b)"
        case .invalidUTF8(let f):
            return "IPC field \(f) is not valid UTF-8"
        case .invalidAddress(let f):
            return "IPC field \(f) is not a textual IPv4 or IPv6 address"
        case .invalidValue(let f, let v):
            return "IPC field \(f) has invalid value \(v)"
        case .trailingBytes(let n):
            return "IPC body has \(n) bytes after its last field"
        }
    }
}
