import CStockade
#if canImport(Glibc)
import Glibc
#endif

/// One end of an AF_UNIX SOCK_SEQPACKET socketpair speaking the IPC protocol. Each frame is
/// one record, and the fds of a frame arrive with exactly that record.
///
/// The socket is non-blocking. `send` writes at once when it can and otherwise queues the frame
/// (with its fds) until `flush`; the queue is bounded, and overflowing it breaks the channel.
/// `receive` validates every record and closes every fd it does not hand to the caller.
///
/// fd ownership: fds given to `send` belong to the channel from that call on, whatever the
/// outcome (it closes them once sent or on failure); fds in a received frame belong to the
/// caller.
///
/// Event loops drive a channel with `handleReadiness(readable:writable:)`: register the fd for
/// reading always, and for writing while `wantsWritable` (reported through
/// `onWriteInterestChange`). The channel knows no loop; ipc/PROTOCOL.md shows the glue for
/// PollLoop.
///
/// Not thread-safe: use a channel from one thread (its loop's).
public final class IPCChannel {
    /// A neighbour that has not drained this many frames is hung; its heartbeat deadline will
    /// get it restarted, and until then memory stays bounded.
    public static let defaultMaxQueuedFrames = 1024
    /// The byte bound of the send queue: 128 full-size frames.
    public static let defaultMaxQueuedBytes = 128 * IPCLimits.maxRecordLength
    /// Frames handled per readiness event before returning to the loop, so one busy neighbour
    /// cannot starve the others (the fd stays readable and the loop comes back).
    public static let maxFramesPerReadiness = 64

    /// The socket. Owned by the channel; valid until `close()`.
    public let fileDescriptor: CInt
    /// The message types this end accepts (IPCMessageType.types(from:to:)); nil accepts all.
    public let acceptedTypes: Set<IPCMessageType>?
    public let maxQueuedFrames: Int
    public let maxQueuedBytes: Int

    /// The error that broke the channel (or `.closed` if it was closed while healthy); nil
    /// while usable.
    public private(set) var failure: IPCChannelError?
    /// Whether `close()` ran: the fd is closed and the handlers are dropped.
    public private(set) var isClosed = false

    /// Called with true when a frame is queued on an empty queue, false when the queue drains.
    public var onWriteInterestChange: ((Bool) -> Void)?
    /// Called by `handleReadiness` for each frame received; the handler owns the frame's fds.
    public var onFrame: ((IPCReceivedFrame) -> Void)?
    /// Called by `handleReadiness` once, when the channel breaks; the channel closes itself
    /// right after (a broken socket would otherwise stay readable and spin the loop).
    public var onFailure: ((IPCChannelError) -> Void)?
    /// Called by `close()` just before the fd is closed (unregister it from the loop here).
    public var onClose: (() -> Void)?

    private struct PendingFrame {
        var bytes: [UInt8]
        var descriptors: [CInt]
    }

    private var queue: [PendingFrame] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var failureReported = false
    private var receiveBuffer: [UInt8]

    /// Takes ownership of `fd`, which must be an AF_UNIX SOCK_SEQPACKET socket, and makes it
    /// non-blocking. On failure the fd is closed too: ownership passes in every case.
    public init(adopting fd: CInt, accepting acceptedTypes: Set<IPCMessageType>? = nil,
                maxQueuedFrames: Int = IPCChannel.defaultMaxQueuedFrames,
                maxQueuedBytes: Int = IPCChannel.defaultMaxQueuedBytes) throws(IPCChannelError) {
        var socketType: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        if getsockopt(fd, SOL_SOCKET, SO_TYPE, &socketType, &length) != 0 {
            let code = errno
            Glibc.close(fd)
            throw code == ENOTSOCK ? .notSeqPacketSocket : .system(operation: "getsockopt(SO_TYPE)", errno: code)
        }
        guard socketType == CInt(SOCK_SEQPACKET.rawValue) else {
            Glibc.close(fd)
            throw .notSeqPacketSocket
        }
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 {
            let code = errno
            Glibc.close(fd)
            throw .system(operation: "fcntl(O_NONBLOCK)", errno: code)
        }
        self.fileDescriptor = fd
        self.acceptedTypes = acceptedTypes
        self.maxQueuedFrames = maxQueuedFrames
        self.maxQueuedBytes = maxQueuedBytes
        self.receiveBuffer = [UInt8](repeating: 0, count: IPCLimits.maxRecordLength)
    }

    deinit { close() }

    /// A fresh socketpair (SOCK_SEQPACKET, close-on-exec, still blocking): the supervisor gives
    /// one end to a child and wraps the other in an IPCChannel.
    public static func makeSocketPair() throws(IPCChannelError) -> (CInt, CInt) {
        var fds: [CInt] = [-1, -1]
        guard stockade_seqpacket_pair(&fds) == 0 else {
            throw .system(operation: "socketpair(SOCK_SEQPACKET)", errno: errno)
        }
        return (fds[0], fds[1])
    }

    /// Two connected channels: for tests and for wiring within one process.
    public static func makePair(accepting first: Set<IPCMessageType>? = nil,
                                _ second: Set<IPCMessageType>? = nil) throws(IPCChannelError) -> (IPCChannel, IPCChannel) {
        let (a, b) = try makeSocketPair()
        let left: IPCChannel
        do { left = try IPCChannel(adopting: a, accepting: first) } catch {
            Glibc.close(b)
            throw error
        }
        return (left, try IPCChannel(adopting: b, accepting: second))
    }

    /// Frames waiting for the socket to become writable.
    public var queuedFrameCount: Int { queue.count - queueHead }

    /// True while frames are queued: the loop should watch the fd for writability.
    public var wantsWritable: Bool { queuedFrameCount > 0 && failure == nil }

    // MARK: sending

    /// Sends (or queues) one frame, transferring `fds` to the channel, which closes them once
    /// they are sent or when this fails. `fds.count` must equal the type's descriptorCount.
    public func send(_ message: IPCMessage, requestID: UInt32 = 0,
                     transferring fds: [CInt] = []) throws(IPCChannelError) {
        if let failure {
            Self.closeAll(fds)
            throw failure
        }
        let type = message.type
        guard fds.count == type.descriptorCount else {
            Self.closeAll(fds)
            throw .encoding(.wrongDescriptorCount(type: type, expected: type.descriptorCount, supplied: fds.count))
        }
        let bytes: [UInt8]
        do { bytes = try IPCFrame(message, requestID: requestID).encoded() } catch {
            Self.closeAll(fds)
            throw .encoding(error)
        }
        let pending = PendingFrame(bytes: bytes, descriptors: fds)
        if queuedFrameCount == 0 {
            switch write(pending) {
            case .sent:
                Self.closeAll(fds)
                return
            case .wouldBlock:
                break
            case .failed(let error):
                Self.closeAll(fds)
                throw breakChannel(error)
            }
        }
        guard queuedFrameCount < maxQueuedFrames, queuedBytes + bytes.count <= maxQueuedBytes else {
            Self.closeAll(fds)
            throw breakChannel(.sendQueueOverflow(frames: queuedFrameCount + 1, bytes: queuedBytes + bytes.count))
        }
        let wasEmpty = queuedFrameCount == 0
        queue.append(pending)
        queuedBytes += bytes.count
        if wasEmpty { onWriteInterestChange?(true) }
    }

    /// Writes queued frames until the queue is empty or the socket would block.
    public func flush() throws(IPCChannelError) {
        if let failure { throw failure }
        guard queuedFrameCount > 0 else { return }
        while queueHead < queue.count {
            let pending = queue[queueHead]
            switch write(pending) {
            case .sent:
                Self.closeAll(pending.descriptors)
                queuedBytes -= pending.bytes.count
                queue[queueHead] = PendingFrame(bytes: [], descriptors: [])
                queueHead += 1
            case .wouldBlock:
                compactQueue()
                return
            case .failed(let error):
                throw breakChannel(error)
            }
        }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
        onWriteInterestChange?(false)
    }

    private enum WriteResult {
        case sent
        case wouldBlock
        case failed(IPCChannelError)
    }

    private func write(_ pending: PendingFrame) -> WriteResult {
        let result = pending.bytes.withUnsafeBytes { bytes in
            pending.descriptors.withUnsafeBufferPointer { fds in
                stockade_send_with_fds(fileDescriptor, bytes.baseAddress, bytes.count,
                                       fds.baseAddress, CInt(fds.count))
            }
        }
        if result >= 0 { return .sent }  // a SEQPACKET record is sent whole or not at all
        let code = errno
        switch code {
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EPIPE, ECONNRESET: return .failed(.peerClosed)
        default: return .failed(.system(operation: "sendmsg", errno: code))
        }
    }

    /// Drops the sent prefix once it is half the array, so the queue's memory stays bounded.
    private func compactQueue() {
        if queueHead > 0 && queueHead * 2 >= queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    // MARK: receiving

    /// Takes one frame off the socket, or returns nil if none is waiting. Throws (and breaks the
    /// channel) on end of file or any invalid record, after closing the record's fds.
    public func receive() throws(IPCChannelError) -> IPCReceivedFrame? {
        if let failure { throw failure }
        var fds = [CInt](repeating: -1, count: IPCLimits.maxDescriptorsPerFrame)
        var fdCount: CInt = 0
        var flags: CInt = 0
        let received = receiveBuffer.withUnsafeMutableBytes { buffer in
            fds.withUnsafeMutableBufferPointer { fdBuffer in
                stockade_recv_with_fds(fileDescriptor, buffer.baseAddress, buffer.count,
                                       fdBuffer.baseAddress, CInt(fdBuffer.count), &fdCount, &flags)
            }
        }
        if received < 0 {
            let code = errno
            switch code {
            case EAGAIN, EWOULDBLOCK: return nil
            case ECONNRESET: throw breakChannel(.peerClosed)
            default: throw breakChannel(.system(operation: "recvmsg", errno: code))
            }
        }
        let descriptors = Array(fds.prefix(Int(fdCount)))
        // A zero-length record without fds is end of file: this protocol never sends empty records.
        if received == 0 && descriptors.isEmpty { throw breakChannel(.peerClosed) }
        if flags & CInt(MSG_TRUNC) != 0 {
            Self.closeAll(descriptors)
            throw breakChannel(.recordTruncated)
        }
        if flags & CInt(MSG_CTRUNC) != 0 {
            Self.closeAll(descriptors)
            throw breakChannel(.descriptorsTruncated)
        }
        let frame: IPCFrame
        do {
            frame = try IPCFrame.decode(receiveBuffer[0..<received], receivedDescriptors: descriptors.count)
        } catch {
            Self.closeAll(descriptors)
            throw breakChannel(.badFrame(error))
        }
        if let acceptedTypes, !acceptedTypes.contains(frame.message.type) {
            Self.closeAll(descriptors)
            throw breakChannel(.unexpectedMessage(frame.message.type))
        }
        return IPCReceivedFrame(frame: frame, descriptors: descriptors)
    }

    // MARK: event-loop driving

    /// Called by the owner's event loop when the fd is ready. Treat hang-up and error as
    /// readable: the records still queued are delivered, then end of file breaks the channel.
    /// Flushes when writable, then delivers up to maxFramesPerReadiness frames to `onFrame`
    /// (closing their fds if there is no handler). On a break it calls `onFailure` once and then
    /// closes the channel (`failure` keeps the error).
    public func handleReadiness(readable: Bool, writable: Bool) {
        guard !isClosed else { return }
        if let failure {
            // Broken by a direct send/receive call: report it and close, as for any break.
            reportFailure(failure)
            return
        }
        if writable {
            do { try flush() } catch {
                reportFailure(error)
                return
            }
        }
        guard readable else { return }
        for _ in 0..<Self.maxFramesPerReadiness {
            // The frame handler may have closed the channel, or broken it with a send.
            if isClosed { return }
            if let failure {
                reportFailure(failure)
                return
            }
            let frame: IPCReceivedFrame?
            do { frame = try receive() } catch {
                reportFailure(error)
                return
            }
            guard let frame else { return }
            if let onFrame { onFrame(frame) } else { Self.closeAll(frame.descriptors) }
        }
    }

    private func reportFailure(_ error: IPCChannelError) {
        guard !failureReported, !isClosed else { return }
        failureReported = true
        onFailure?(error)
        close()
    }

    // MARK: breaking and closing

    /// Marks the channel broken and releases the fds of every queued frame.
    private func breakChannel(_ error: IPCChannelError) -> IPCChannelError {
        if failure == nil { failure = error }
        let hadQueue = queuedFrameCount > 0
        for pending in queue[queueHead...] { Self.closeAll(pending.descriptors) }
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
        if hadQueue { onWriteInterestChange?(false) }
        return error
    }

    /// Closes the socket and every queued fd. Idempotent. Calls `onClose` first, then drops
    /// every handler (which breaks reference cycles through them).
    public func close() {
        if isClosed { return }
        _ = breakChannel(.closed)
        isClosed = true
        let hook = onClose
        onClose = nil
        hook?()
        onFrame = nil
        onFailure = nil
        onWriteInterestChange = nil
        Glibc.close(fileDescriptor)
    }

    private static func closeAll(_ fds: [CInt]) {
        for fd in fds where fd >= 0 { Glibc.close(fd) }
    }
}
