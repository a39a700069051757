/// One session's state inside `MuxLink` (ipc/MUX.md, "Session life").
struct MuxSession {
    enum Phase {
        /// Opened here, New sent or queued, no answer yet.
        case opening
        /// Opened by the peer, waiting for the driver's accept or refuse.
        case accepting
        case open
        /// Our End is queued or sent; waiting for the peer's.
        case ending
    }

    /// An End to send, with its error code when it aborts.
    struct PendingEnd: Equatable {
        var error: MuxErrorCode?
    }

    let local: Bool
    let target: MuxTarget?
    /// A UDP session: datagrams travel whole, one per frame, and are dropped (oldest first)
    /// rather than queued past `MuxLimits.datagramQueueBytes`.
    let datagram: Bool
    var datagrams = DatagramQueue()
    let created: ContinuousClock.Instant
    var phase: Phase = .open

    var pendingNew = false
    var pendingAck = false
    var finQueued = false
    var sentFin = false
    var receivedFin = false
    var pendingEnd: PendingEnd?
    var sentEnd = false
    var receivedEnd = false
    /// The driver knows the session is over (it closed it, or was told with `.closed`).
    var reportedClosed = false

    // Sending: data read from the local socket, and how much the peer's window still allows.
    var sendQueue = ByteQueue()
    var sendCredit: Int
    var blocked = false

    // Receiving: what the peer may still send, the current window, bytes delivered to the
    // driver and not yet written out, and bytes written out but not yet returned in an update.
    var recvCredit: Int
    var recvWindow: Int
    var unconsumed = 0
    var unacknowledged = 0
    var epochStart: ContinuousClock.Instant

    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0

    init(local: Bool, target: MuxTarget?, now: ContinuousClock.Instant, window: Int) {
        self.local = local
        self.target = target
        datagram = target?.network == .udp
        created = now
        epochStart = now
        sendCredit = window
        recvCredit = window
        recvWindow = window
    }

    var hasSomethingToSend: Bool {
        if let _ = pendingEnd, !sentEnd, phase == .ending || sendQueue.isEmpty { return true }
        if pendingNew || pendingAck { return true }
        if datagram { return canSendData && (datagrams.first.map { $0.bytes.count <= sendCredit } ?? false) }
        if canSendData && !sendQueue.isEmpty && sendCredit > 0 { return true }
        return finQueued && !sentFin && sendQueue.isEmpty && canSendData
    }

    /// Data goes with the New (as v2ray sends it) and then only once the exit acknowledged
    /// the open (ipc/MUX.md "Session life"): an exit buffers at most one chunk per open.
    var canSendData: Bool {
        pendingNew || phase == .open
    }

    var stateName: String {
        switch phase {
        case .opening: return "opening"
        case .accepting: return "connecting"
        case .ending: return "closing"
        case .open:
            switch (sentFin, receivedFin) {
            case (true, true): return "closing"
            case (true, false): return "half-closed (local)"
            case (false, true): return "half-closed (remote)"
            case (false, false): return "open"
            }
        }
    }
}

/// Bytes waiting to be sent, as the chunks they arrived in: appending never copies, taking
/// copies only what is taken.
struct ByteQueue {
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var offset = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        chunks.append(bytes)
        count += bytes.count
    }

    /// Up to `limit` bytes from the front.
    mutating func take(_ limit: Int) -> [UInt8] {
        let n = min(limit, count)
        guard n > 0 else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(n)
        while out.count < n {
            let chunk = chunks[head]
            let part = min(n - out.count, chunk.count - offset)
            if offset == 0 && part == chunk.count {
                out += chunk
            } else {
                out += chunk[offset..<offset + part]
            }
            offset += part
            if offset == chunk.count {
                chunks[head] = []   // sent: its memory goes now, not at the next compaction
                head += 1
                offset = 0
            }
        }
        count -= n
        if head > 32 && head * 2 > chunks.count {
            chunks.removeFirst(head)
            head = 0
        }
        return out
    }

    mutating func removeAll() {
        chunks = []
        head = 0
        offset = 0
        count = 0
    }
}

/// Datagrams waiting to be sent, each whole, with its address.
struct DatagramQueue {
    private var items: [(bytes: [UInt8], address: MuxTarget?)] = []
    private var head = 0
    private(set) var bytes = 0

    var isEmpty: Bool { head == items.count }
    var first: (bytes: [UInt8], address: MuxTarget?)? { isEmpty ? nil : items[head] }

    mutating func append(_ bytes: [UInt8], address: MuxTarget?) {
        items.append((bytes, address))
        self.bytes += bytes.count
    }

    mutating func removeFirst() -> (bytes: [UInt8], address: MuxTarget?)? {
        guard !isEmpty else { return nil }
        let item = items[head]
        items[head] = ([], nil)
        head += 1
        bytes -= item.bytes.count
        if head > 32 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    mutating func removeAll() {
        items = []
        head = 0
        bytes = 0
    }
}

/// Session IDs in round-robin order, each at most once.
struct SessionRing {
    private var order: [UInt16] = []
    private var head = 0
    private var members: Set<UInt16> = []

    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    mutating func insert(_ id: UInt16) {
        guard members.insert(id).inserted else { return }
        order.append(id)
    }

    mutating func remove(_ id: UInt16) {
        members.remove(id)   // its slot in `order` is skipped when reached
    }

    mutating func popFirst() -> UInt16? {
        while head < order.count {
            let id = order[head]
            head += 1
            if head > 64 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
            if members.remove(id) != nil { return id }
        }
        return nil
    }
}

/// A set of session IDs as one bit each (8 KiB once the first is inserted): bounded by the ID
/// space whatever the peer does.
struct SessionIDBits {
    private var words: [UInt64] = []
    private(set) var count = 0

    func contains(_ id: UInt16) -> Bool {
        words.isEmpty ? false : words[Int(id >> 6)] & (1 << UInt64(id & 63)) != 0
    }

    mutating func insert(_ id: UInt16) {
        if words.isEmpty { words = [UInt64](repeating: 0, count: 1024) }
        let bit: UInt64 = 1 << UInt64(id & 63)
        guard words[Int(id >> 6)] & bit == 0 else { return }
        words[Int(id >> 6)] |= bit
        count += 1
    }

    mutating func remove(_ id: UInt16) {
        guard contains(id) else { return }
        words[Int(id >> 6)] &= ~(1 << UInt64(id & 63))
        count -= 1
    }
}
