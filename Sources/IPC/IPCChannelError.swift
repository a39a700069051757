/// Why an IPCChannel failed. Every case except `encoding` means the channel is broken: the
/// neighbour is gone or misbehaving, the owner closes the channel (and the supervisor restarts
/// the neighbour). None of them is a reason for this process to crash.
public enum IPCChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The channel was closed by its owner.
    case closed
    /// The other end closed (end of file on the socket).
    case peerClosed
    /// A received record was not a valid frame.
    case badFrame(IPCDecodingError)
    /// A received record was longer than IPCLimits.maxRecordLength (MSG_TRUNC).
    case recordTruncated
    /// More fds arrived with a record than a frame may carry (MSG_CTRUNC); all were closed.
    case descriptorsTruncated
    /// A valid frame of a type this end does not accept from its neighbour.
    case unexpectedMessage(IPCMessageType)
    /// The neighbour stopped reading: the send queue passed its frame or byte bound.
    case sendQueueOverflow(frames: Int, bytes: Int)
    /// The message could not be encoded; nothing was sent and the channel is still usable.
    case encoding(IPCEncodingError)
    /// The fd given to the channel is not an AF_UNIX SOCK_SEQPACKET socket.
    case notSeqPacketSocket
    /// A system call failed.
    case system(operation: String, errno: Int32)

    /// Whether the channel is unusable after this error (every case but `encoding`).
    public var breaksChannel: Bool {
        if case .encoding = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .closed: return "IPC channel is closed"
        case .peerClosed: return "IPC neighbour closed the channel"
        case .badFrame(let e): return "IPC neighbour sent a bad frame: \(e)"
        case .recordTruncated:
            return "IPC neighbour sent a record longer than \(IPCLimits.maxRecordLength) bytes"
        case .descriptorsTruncated:
            return "IPC neighbour attached more than \(IPCLimits.maxDescriptorsPerFrame) fds to a record"
        case .unexpectedMessage(let t): return "IPC neighbour sent \(t.name), which this end does not accept"
        case .sendQueueOverflow(let f, let b):
            return "IPC neighbour stopped reading: \(f) frames / \(b) bytes queued"
        case .encoding(let e): return e.description
        case .notSeqPacketSocket: return "IPC channel fd is not an AF_UNIX SOCK_SEQPACKET socket"
        case .system(let op, let code): return "IPC \(op) failed: errno \(code)"
        }
    }
}
