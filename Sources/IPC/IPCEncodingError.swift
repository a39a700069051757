/// Why a message could not be encoded. The sender refuses rather than emit a frame its peer
/// would have to reject as broken.
public enum IPCEncodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A length-prefixed field is longer than its bound.
    case fieldTooLong(field: String, length: Int, bound: Int)
    /// A fixed- or restricted-length field has a length it may not have.
    case invalidLength(field: String, length: Int)
    /// A list has more entries than its bound.
    case tooManyEntries(field: String, count: Int, bound: Int)
    /// An address field is not a textual IPv4 or IPv6 address.
    case invalidAddress(field: String)
    /// A field holds a value that its encoding reserves (e.g. 0xff meaning "none").
    case invalidValue(field: String, value: UInt64)
    /// A request or reply was given request id 0, or another message a non-zero one.
    case requestIDMisuse(type: IPCMessageType, requestID: UInt32)
    /// The message carries a fixed number of fds and another number was supplied.
    case wrongDescriptorCount(type: IPCMessageType, expected: Int, supplied: Int)

    public var description: String {
        switch self {
        case .fieldTooLong(let f, let l, let b):
            return "cannot encode IPC field \(f) of \(l) bytes, the bound is \(b)"
        case .invalidLength(let f, let l):
            return "cannot encode IPC field \(f) of length \(l)"
        case .tooManyEntries(let f, let c, let b):
            return "cannot encode IPC list \(f) of \(c) entries, the bound is \(b)"
        case .invalidAddress(let f):
            return "cannot encode IPC field \(f): not a textual IPv4 or IPv6 address"
        case .invalidValue(let f, let v):
            return "cannot encode IPC field \(f) with reserved value \(v)"
        case .requestIDMisuse(let t, let id):
            return t.requestIDRule == .none
                ? "IPC \(t.name) must be sent with request id 0, not \(id)"
                : "IPC \(t.name) must be sent with a non-zero request id"
        case .wrongDescriptorCount(let t, let e, let s):
            return "IPC \(t.name) carries \(e) fds, \(s) were supplied"
        }
    }
}
