/// The sessions of one peer link, sans I/O (ipc/MUX.md): frames and window updates in,
/// events out; local actions in, messages to send out. The peer manager's driver feeds it what
/// the peer sent and what the local sockets did, acts on the events, and sends what
/// `nextMessage` yields while the peer's socket is writable.
///
/// Rules, each from the seed (v2ray `common/mux/server.go`) unless marked:
/// - the opener picks the ID (dialer odd, listener even: yamux, HTTP/2); an ID is used again
///   only after both sides sent End for it (Stockade);
/// - a Keep for an unknown session is answered with End (Error: unknown session), its data dropped;
/// - End ends both directions, End with Error aborts; Keep+Fin half-closes one (Stockade, as
///   SSH_MSG_CHANNEL_EOF); a side sends End once both directions are finished;
/// - per-session receive windows of 256 KiB with window updates, auto-tuned (yamux, QUIC);
///   data past the window aborts that session with `flowControl`;
/// - the sender takes sessions round robin, at most `MuxLimits.chunk` bytes a turn, so a bulk
///   session cannot delay an interactive one by more than one chunk per session.
public struct MuxLink {
    public let role: MuxRole
    public let limits: MuxLimits
    /// The link's round-trip time (devp2p Ping/Pong), for window auto-tuning; nil until measured.
    public var rtt: Duration?

    private var sessions: [UInt16: MuxSession] = [:]
    /// Sessions with something to send, in round-robin order, and their membership.
    private var ready = SessionRing()
    /// Ends to send for no session record: answers to frames for unknown sessions (at most one
    /// queued per ID) and refusals of remote opens past the link's limits, in order.
    private var answers: [(id: UInt16, code: MuxErrorCode)] = []
    private var unknownAnswerQueued = SessionIDBits()
    private var refusalQueued = SessionIDBits()
    /// Remote opens refused by the limits whose End from the peer has not come yet: one bit
    /// each, no session record, so a peer opening past every limit costs at most 8 KiB here
    /// and is answered, never disconnected (ipc/MUX.md, "Bounds").
    private var refused = SessionIDBits()
    private var windowUpdates: [MuxWindowUpdate] = []
    private var nextLocalID: UInt16
    /// Opens the remote made that the driver has not accepted or refused yet.
    private var pendingAccepts = 0
    /// Receive-window growth beyond the initial windows, in bytes (what the budget limits).
    public private(set) var windowGrowth = 0
    public private(set) var stats = MuxLinkStats()
    /// Bytes held for this link: queued to send plus received and not yet consumed.
    public private(set) var bufferedBytes = 0

    public init(role: MuxRole, limits: MuxLimits) {
        self.role = role
        self.limits = limits
        nextLocalID = role == .dialer ? 1 : 2
    }

    // MARK: what the peer sent

    /// One `stk/1` message (`id` relative to the capability's offset). A malformed message, or
    /// one that breaks the link's rules (a New on an ID in use or of this side's parity),
    /// throws: disconnect the peer with ProtocolError.
    public mutating func receive(messageID: UInt64, payload: [UInt8], now: ContinuousClock.Instant) throws(MuxProtocolError) -> [MuxEvent] {
        var events: [MuxEvent] = []
        switch messageID {
        case MuxMessageID.frames:
            let frames: [MuxFrame]
            do { frames = try MuxFrameCodec.decode(payload) } catch { throw .frame(error) }
            for frame in frames { try receive(frame, now: now, events: &events) }
        case MuxMessageID.windowUpdate:
            let updates: [MuxWindowUpdate]
            do { updates = try MuxWindowUpdate.decode(payload) } catch { throw .frame(error) }
            for u in updates { try receive(u, events: &events) }
        default:
            throw .unknownMessage(messageID)
        }
        return events
    }

    private mutating func receive(_ f: MuxFrame, now: ContinuousClock.Instant, events: inout [MuxEvent]) throws(MuxProtocolError) {
        switch f.status {
        case .new: try receiveNew(f, now: now, events: &events)
        case .keep: receiveKeep(f, events: &events)
        case .end: receiveEnd(f, events: &events)
        case .keepAlive: stats.keepAlives += 1
        }
    }

    private mutating func receiveNew(_ f: MuxFrame, now: ContinuousClock.Instant, events: inout [MuxEvent]) throws(MuxProtocolError) {
        let id = f.sessionID
        guard id != 0, id & 1 != role.parity else { throw .wrongParity(id) }
        // A refused ID is in use until both Ends, like any other.
        guard sessions[id] == nil, !refused.contains(id), !refusalQueued.contains(id) else { throw .sessionInUse(id) }
        if unknownAnswerQueued.contains(id) {
            // An answer to an earlier stray Keep must not end the session opened now.
            unknownAnswerQueued.remove(id)
            answers.removeAll { $0.id == id && $0.code == .unknownSession }
        }
        let refusal: MuxErrorCode?
        if liveCount >= limits.maxSessions {
            refusal = .tooManySessions
        } else if pendingAccepts >= limits.maxPendingOpens {
            refusal = .backlogFull
        } else {
            refusal = nil
        }
        if let refusal {
            stats.refusedByLimit += 1
            refused.insert(id)
            refusalQueued.insert(id)
            answers.append((id, refusal))
            events.append(.refusedOpen(id, refusal))
            return
        }
        var s = MuxSession(local: false, target: f.target, now: now, window: MuxLimits.initialWindow)
        s.phase = .accepting
        pendingAccepts += 1
        sessions[id] = s
        events.append(.openRequested(id, f.target ?? MuxTarget(address: .ipv4([0, 0, 0, 0]), port: 0)))
        if !f.data.isEmpty || f.options.contains(.fin) {
            receiveKeep(MuxFrame.keep(id, data: f.data, fin: f.options.contains(.fin)), events: &events)
            // (A UDP New's datagram goes to the New's own target: no address on the Keep.)
        }
    }

    private mutating func receiveKeep(_ f: MuxFrame, events: inout [MuxEvent]) {
        let id = f.sessionID
        guard var s = sessions[id] else {
            // In flight when we refused the open: dropped quietly, as for an ended session.
            if !refused.contains(id) && !refusalQueued.contains(id) { answerUnknown(id) }
            return
        }
        defer {
            sessions[id] = s
            // An ack lets queued data and Fin go; a Fin may make our End due.
            if s.hasSomethingToSend { ready.insert(id) }
        }
        // Ended by us: whatever was in flight is dropped quietly until the peer's End. A Keep
        // for a session whose New has not gone out cannot be an answer to it: ignored.
        guard s.pendingEnd == nil, !s.sentEnd, !s.pendingNew else { return }
        if s.local && s.phase == .opening {
            s.phase = .open
            events.append(.opened(id))
        }
        if !f.data.isEmpty {
            guard !s.receivedFin, f.data.count <= s.recvCredit else {
                stats.flowViolations += 1
                abort(&s, id, .flowControl, events: &events)
                return
            }
            s.recvCredit -= f.data.count
            s.bytesIn += UInt64(f.data.count)
            s.unconsumed += f.data.count
            bufferedBytes += f.data.count
            events.append(s.datagram ? .datagram(id, f.data, f.target) : .data(id, f.data))
        }
        if f.options.contains(.fin), !s.receivedFin, !s.datagram {
            s.receivedFin = true
            events.append(.remoteFinished(id))
            endIfFinished(&s, id)
        }
    }

    private mutating func receiveEnd(_ f: MuxFrame, events: inout [MuxEvent]) {
        let id = f.sessionID
        guard var s = sessions[id] else {
            // End for nothing: nothing to answer. For a refused open, the peer's End frees the ID
            // (for its next New once it has our End, which it may only send after receiving it).
            refused.remove(id)
            return
        }
        s.receivedEnd = true
        if !s.reportedClosed {
            s.reportedClosed = true
            let error: MuxErrorCode? = f.options.contains(.error) ? (f.errorCode ?? .generalFailure)
                : (s.local && s.phase == .opening ? .generalFailure : nil)
            events.append(.closed(id, error))
        }
        if s.phase == .accepting { pendingAccepts -= 1 }
        if !s.sentEnd {
            // Answer with our End; nothing else of ours is sent any more.
            dropQueue(&s)
            if s.pendingEnd == nil { s.pendingEnd = .init(error: nil) }
            s.phase = .ending
            sessions[id] = s
            ready.insert(id)
            return
        }
        forget(id)
    }

    private mutating func receive(_ u: MuxWindowUpdate, events: inout [MuxEvent]) throws(MuxProtocolError) {
        guard var s = sessions[u.sessionID] else { return }   // crossed with our End: harmless
        let credit = s.sendCredit + Int(u.increment)
        guard credit <= Int(MuxWindowUpdate.maximumIncrement) else { throw .windowOverflow(u.sessionID) }
        s.sendCredit = credit
        if s.blocked {
            s.blocked = false
            events.append(.sendable(u.sessionID))
        }
        sessions[u.sessionID] = s
        if s.hasSomethingToSend { ready.insert(u.sessionID) }
    }

    private mutating func answerUnknown(_ id: UInt16) {
        stats.unknownSessionFrames += 1
        guard !unknownAnswerQueued.contains(id) else { return }
        unknownAnswerQueued.insert(id)
        answers.append((id, .unknownSession))
    }

    // MARK: what the local side did

    /// Opens a session to `target`; nil when the link holds its limit of sessions, no ID is
    /// free, or a New frame cannot carry the target (`MuxTarget.isEncodable`).
    public mutating func open(_ target: MuxTarget, now: ContinuousClock.Instant) -> UInt16? {
        guard target.isEncodable, liveCount < limits.maxSessions else { return nil }
        for _ in 0..<32_768 {
            let id = nextLocalID
            nextLocalID = nextLocalID &+ 2
            if nextLocalID == 0 || nextLocalID == 1 && role == .listener { nextLocalID = role == .dialer ? 1 : 2 }
            guard id != 0, sessions[id] == nil else { continue }
            var s = MuxSession(local: true, target: target, now: now, window: MuxLimits.initialWindow)
            s.phase = .opening
            s.pendingNew = true
            sessions[id] = s
            ready.insert(id)
            stats.opened += 1
            return id
        }
        return nil
    }

    /// The exit connected the target of a remote open: the first Keep acknowledges it.
    public mutating func accept(_ id: UInt16) {
        guard var s = sessions[id], s.phase == .accepting else { return }
        pendingAccepts -= 1
        s.phase = .open
        s.pendingAck = true
        sessions[id] = s
        ready.insert(id)
        stats.accepted += 1
    }

    /// The exit will not open the target of a remote open (denied, unreachable, …).
    public mutating func refuse(_ id: UInt16, _ code: MuxErrorCode) {
        guard var s = sessions[id], s.phase == .accepting else { return }
        pendingAccepts -= 1
        s.reportedClosed = true
        var none: [MuxEvent] = []
        abort(&s, id, code, events: &none)
        sessions[id] = s
    }

    /// Bytes the local socket produced, to go out as the session's data.
    public mutating func send(_ id: UInt16, _ bytes: [UInt8]) {
        guard var s = sessions[id], s.pendingEnd == nil, !s.sentEnd, !s.finQueued, !bytes.isEmpty else { return }
        s.sendQueue.append(bytes)
        bufferedBytes += bytes.count
        sessions[id] = s
        if s.hasSomethingToSend { ready.insert(id) }
    }

    /// One datagram for a UDP session, to go whole in one frame (`address`: where it goes, from
    /// the opener; where it came from, from the other side; nil for the session's target).
    /// Larger than `MuxLimits.maxDatagram`, or pushing the queue past
    /// `MuxLimits.datagramQueueBytes`, it or the oldest queued ones are dropped and counted:
    /// UDP is lossy, memory is not. False when this datagram itself was dropped.
    @discardableResult
    public mutating func sendDatagram(_ id: UInt16, _ bytes: [UInt8], address: MuxTarget? = nil) -> Bool {
        guard var s = sessions[id], s.datagram, s.pendingEnd == nil, !s.sentEnd else { return false }
        guard bytes.count <= MuxLimits.maxDatagram, address?.isEncodable ?? true else {
            stats.datagramsDropped += 1
            return false
        }
        s.datagrams.append(bytes, address: address)
        bufferedBytes += bytes.count
        while s.datagrams.bytes > MuxLimits.datagramQueueBytes, let old = s.datagrams.removeFirst() {
            bufferedBytes -= old.bytes.count
            stats.datagramsDropped += 1
        }
        sessions[id] = s
        if s.hasSomethingToSend { ready.insert(id) }
        return true
    }

    /// Ends a session without error (a UDP session idle past its timeout): End, nothing more.
    public mutating func close(_ id: UInt16) {
        guard var s = sessions[id], !s.sentEnd, s.pendingEnd == nil else { return }
        s.reportedClosed = true
        if s.phase == .accepting { pendingAccepts -= 1 }
        dropQueue(&s)
        s.pendingEnd = .init(error: nil)
        s.phase = .ending
        sessions[id] = s
        ready.insert(id)
    }

    /// The local socket reached EOF: a Fin follows the queued data.
    public mutating func finish(_ id: UInt16) {
        guard var s = sessions[id], s.pendingEnd == nil, !s.sentEnd, !s.finQueued else { return }
        s.finQueued = true
        sessions[id] = s
        ready.insert(id)
    }

    /// The local side failed or was reset: End with Error, nothing more is sent or delivered.
    public mutating func abort(_ id: UInt16, _ code: MuxErrorCode) {
        guard var s = sessions[id] else { return }
        s.reportedClosed = true
        if s.phase == .accepting { pendingAccepts -= 1 }
        var none: [MuxEvent] = []
        abort(&s, id, code, events: &none)
        if sessions[id] != nil { sessions[id] = s }
    }

    /// `count` bytes of the session's data left this process for the local socket. Once half
    /// the window is consumed a window update returns it, grown (up to `limits.maxWindow`, and
    /// by at most `growthAllowance` bytes) when the window was consumed within two round trips.
    /// Counts past what was delivered are ignored; after `.closed` the session's bytes are
    /// already released, so do not call this for it (its ID may belong to a new session).
    public mutating func consumed(_ id: UInt16, _ count: Int, now: ContinuousClock.Instant, growthAllowance: Int) {
        guard var s = sessions[id] else { return }
        let count = min(count, s.unconsumed)
        guard count > 0 else { return }
        s.unconsumed -= count
        bufferedBytes -= count
        s.unacknowledged += count
        // No update once no more data may come: after the peer's Fin or End, and after our End
        // (an update sent after it could reach a new session that reuses the ID).
        guard !s.receivedFin, !s.receivedEnd, s.pendingEnd == nil, !s.sentEnd,
              s.unacknowledged >= s.recvWindow / 2 else {
            sessions[id] = s
            return
        }
        var growth = 0
        let rtt = max(self.rtt ?? MuxLimits.defaultRTT, MuxLimits.minimumRTT)
        if now - s.epochStart < rtt * 2, s.recvWindow < limits.maxWindow {
            growth = max(0, min(s.recvWindow, limits.maxWindow - s.recvWindow, growthAllowance))
            s.recvWindow += growth
            windowGrowth += growth
            if growth > 0 { stats.windowGrowths += 1 }
        }
        let increment = s.unacknowledged + growth
        s.recvCredit += increment
        s.unacknowledged = 0
        s.epochStart = now
        sessions[id] = s
        windowUpdates.append(MuxWindowUpdate(sessionID: id, increment: UInt32(increment)))
    }

    // MARK: what to send

    /// The next message for the peer (`id` relative to the capability's offset), at most
    /// `maxBytes` long (at least 1 KiB): pending window updates first (small, and they unblock
    /// the peer), then answers without a session (unknown sessions, refused opens), then
    /// sessions round robin, one chunk a turn. Nil when there is nothing to send.
    public mutating func nextMessage(maxBytes: Int = MuxLimits.messageSize) -> (id: UInt64, payload: [UInt8])? {
        let maxBytes = max(maxBytes, Self.smallestMessage)
        if !windowUpdates.isEmpty {
            let take = min(windowUpdates.count, maxBytes / MuxWindowUpdate.entrySize)
            let batch = Array(windowUpdates.prefix(take))
            windowUpdates.removeFirst(take)
            return (MuxMessageID.windowUpdate, MuxWindowUpdate.encode(batch))
        }
        var out: [UInt8] = []
        var answered = 0
        while answered < answers.count, out.count + Self.endWithCodeSize <= maxBytes {
            let (id, code) = answers[answered]
            answered += 1
            if code == .unknownSession { unknownAnswerQueued.remove(id) } else { refusalQueued.remove(id) }
            MuxFrameCodec.append(.end(id, error: code), to: &out)
        }
        answers.removeFirst(answered)
        // Room for the largest frame header and one byte keeps every turn productive; a turn
        // that sends nothing (an End of a never-announced session) is bounded by `idle`.
        var idle = 0
        while maxBytes - out.count > Self.largestFrameOverhead, idle <= ready.count, let id = ready.popFirst() {
            guard var s = sessions[id] else { continue }
            let before = out.count
            emit(&s, id, room: maxBytes - out.count, into: &out)
            idle = out.count == before ? idle + 1 : 0
            if s.sentEnd && s.receivedEnd {
                forget(id)
                continue
            }
            sessions[id] = s
            if s.hasSomethingToSend { ready.insert(id) }
        }
        return out.isEmpty ? nil : (MuxMessageID.frames, out)
    }

    /// One turn of one session: at most one chunk of data, with whatever control frame is due,
    /// adding at most `room` bytes to `out` (`room` exceeds `largestFrameOverhead`).
    private mutating func emit(_ s: inout MuxSession, _ id: UInt16, room: Int, into out: inout [UInt8]) {
        if let end = s.pendingEnd, !s.sentEnd, s.phase == .ending || s.sendQueue.isEmpty {
            if s.pendingNew {
                // Never announced: the peer has nothing to end.
                s.sentEnd = true
                s.receivedEnd = true
                return
            }
            MuxFrameCodec.append(.end(id, error: end.error), to: &out)
            s.sentEnd = true
            return
        }
        if s.datagram {
            emitDatagrams(&s, id, room: room, into: &out)
            return
        }
        let overhead = s.pendingNew ? MuxFrameCodec.newFrameOverhead(s.target ?? .service("")) : Self.keepFrameOverhead
        let chunk = s.canSendData
            ? s.sendQueue.take(min(MuxLimits.chunk, s.sendCredit, room - overhead)) : []
        s.sendCredit -= chunk.count
        bufferedBytes -= chunk.count
        s.bytesOut += UInt64(chunk.count)
        let fin = s.finQueued && !s.sentFin && s.sendQueue.isEmpty && s.canSendData
        if s.pendingNew {
            var frame = MuxFrame.new(id, target: s.target ?? .service(""), data: chunk)
            if fin { frame.options.insert(.fin) }
            MuxFrameCodec.append(frame, to: &out)
            s.pendingNew = false
        } else if s.pendingAck || !chunk.isEmpty || fin {
            MuxFrameCodec.append(.keep(id, data: chunk, fin: fin), to: &out)
            s.pendingAck = false
        }
        if fin {
            s.sentFin = true
            endIfFinished(&s, id)
        }
        if !s.sendQueue.isEmpty && s.sendCredit == 0 && !s.blocked {
            s.blocked = true
            stats.windowStalls += 1
        }
    }

    /// A UDP session's turn: the New (with the first datagram if it fits the window), then
    /// whole datagrams, one frame each, up to a chunk's worth and the window.
    private mutating func emitDatagrams(_ s: inout MuxSession, _ id: UInt16, room: Int, into out: inout [UInt8]) {
        var budget = min(MuxLimits.chunk, room)
        if s.pendingNew {
            let before = out.count
            var first: [UInt8] = []
            if let d = s.datagrams.first, d.address == nil || d.address == s.target, d.bytes.count <= s.sendCredit,
               d.bytes.count + MuxFrameCodec.newFrameOverhead(s.target ?? .service("")) <= budget {
                first = s.datagrams.removeFirst()?.bytes ?? []
            }
            MuxFrameCodec.append(.new(id, target: s.target ?? .service(""), data: first), to: &out)
            s.pendingNew = false
            account(&s, sent: first.count)
            budget -= out.count - before
        }
        guard s.canSendData else { return }
        let before = out.count
        while let d = s.datagrams.first, d.bytes.count <= s.sendCredit {
            let size = d.bytes.count + Self.keepFrameOverhead + (d.address.map { MuxFrameCodec.newFrameOverhead($0) } ?? 0)
            guard size <= budget else { break }
            _ = s.datagrams.removeFirst()
            MuxFrameCodec.append(.keep(id, data: d.bytes, address: d.address), to: &out)
            account(&s, sent: d.bytes.count)
            budget -= size
        }
        if s.pendingAck {
            // The exit's first Keep acknowledges the open, with a datagram or without: a
            // target that never answers must not leave the opener waiting for one.
            if out.count == before { MuxFrameCodec.append(.keep(id), to: &out) }
            s.pendingAck = false
        }
        if let d = s.datagrams.first, d.bytes.count > s.sendCredit, !s.blocked {
            s.blocked = true
            stats.windowStalls += 1
        }
    }

    private mutating func account(_ s: inout MuxSession, sent count: Int) {
        s.sendCredit -= count
        bufferedBytes -= count
        s.bytesOut += UInt64(count)
    }

    /// Both directions finished and everything sent: End (v2ray's ResponseWriter.Close).
    private func endIfFinished(_ s: inout MuxSession, _ id: UInt16) {
        if s.sentFin && s.receivedFin && s.sendQueue.isEmpty && s.pendingEnd == nil && !s.sentEnd {
            s.pendingEnd = .init(error: nil)
        }
    }

    private mutating func abort(_ s: inout MuxSession, _ id: UInt16, _ code: MuxErrorCode, events: inout [MuxEvent]) {
        guard !s.sentEnd, s.pendingEnd?.error == nil else { return }
        dropQueue(&s)
        s.pendingEnd = .init(error: code)
        s.phase = .ending
        if !s.reportedClosed {
            s.reportedClosed = true
            events.append(.closed(id, code))
        }
        ready.insert(id)
    }

    private mutating func dropQueue(_ s: inout MuxSession) {
        bufferedBytes -= s.sendQueue.count + s.datagrams.bytes
        s.sendQueue.removeAll()
        s.datagrams.removeAll()
    }

    private mutating func forget(_ id: UInt16) {
        guard let s = sessions.removeValue(forKey: id) else { return }
        windowGrowth -= s.recvWindow - MuxLimits.initialWindow
        bufferedBytes -= s.sendQueue.count + s.datagrams.bytes + s.unconsumed
        ready.remove(id)
    }

    /// A Keep frame's bytes besides its data: metadata length, metadata, data length.
    static let keepFrameOverhead = 8
    /// End with an error code: metadata length and 5 bytes of metadata.
    static let endWithCodeSize = 7
    /// The largest frame header `emit` writes: a New with a 255-byte domain and data.
    static let largestFrameOverhead = 268
    static let smallestMessage = 1024

    // MARK: reading the state

    /// Sessions that count against `maxSessions`: refused ones waiting for the peer's End do not.
    public var liveCount: Int { sessions.count }
    /// Live sessions and refused opens still waiting for the peer's End.
    public var sessionCount: Int { sessions.count + refused.count }
    public func contains(_ id: UInt16) -> Bool { sessions[id] != nil }
    /// Bytes queued to send for `id` (the driver stops reading its socket above a watermark).
    public func queuedBytes(_ id: UInt16) -> Int { sessions[id]?.sendQueue.count ?? 0 }
    /// Whether `id` may send now (has window); false while the peer's window is spent.
    public func hasSendWindow(_ id: UInt16) -> Bool { (sessions[id]?.sendCredit ?? 0) > 0 }
    public var hasPendingOutput: Bool { !windowUpdates.isEmpty || !answers.isEmpty || !ready.isEmpty }

    /// A snapshot of each session for `stockade sessions`.
    public func snapshot(now: ContinuousClock.Instant) -> [MuxSessionInfo] {
        sessions.sorted { $0.key < $1.key }.map { id, s in
            MuxSessionInfo(id: id, local: s.local, target: s.target, state: s.stateName, bytesIn: s.bytesIn, bytesOut: s.bytesOut,
                           receiveWindow: s.recvWindow, sendWindow: s.sendCredit, queued: s.sendQueue.count,
                           unconsumed: s.unconsumed, age: now - s.created)
        }
    }

}

public enum MuxRole: Sendable {
    /// The side that dialed the TCP connection: odd session IDs.
    case dialer
    /// The side that accepted it: even session IDs.
    case listener

    var parity: UInt16 { self == .dialer ? 1 : 0 }
}

/// The link's bounds (config `[mux]`) and the protocol's constants.
public struct MuxLimits: Sendable {
    public var maxSessions: Int
    public var maxPendingOpens: Int
    public var maxWindow: Int

    public init(maxSessions: Int, maxPendingOpens: Int, maxWindow: Int) {
        // Each side has 32,767 IDs of its parity.
        self.maxSessions = min(max(1, maxSessions), 32_767)
        self.maxPendingOpens = max(1, maxPendingOpens)
        // A window past 2^31-1 is a protocol error (RFC 9113 6.9.1), so growth stops below it.
        self.maxWindow = min(max(Self.initialWindow, maxWindow), Int(MuxWindowUpdate.maximumIncrement))
    }

    /// yamux's initialStreamWindow: every session starts with 256 KiB each way. A protocol
    /// constant, not a setting: both sides must agree on it without a message.
    public static let initialWindow = 256 * 1024
    /// Data per frame and per round-robin turn. v2ray writes 8 KiB frames; 16 KiB halves the
    /// per-frame cost and still bounds a bulk session's delay to an interactive one.
    public static let chunk = 16 * 1024
    /// The largest datagram a UDP session carries, whole (v2ray allows 2048; DNS with EDNS and
    /// QUIC want up to 4 KiB). A larger one is dropped and counted at the sender, never split.
    public static let maxDatagram = 8 * 1024
    /// Datagrams a UDP session may queue before the oldest are dropped.
    public static let datagramQueueBytes = 64 * 1024
    /// Frames per outgoing RLPx message (the unit the frame MAC covers).
    public static let messageSize = 64 * 1024
    /// Until a Ping's round trip is measured.
    public static let defaultRTT: Duration = .milliseconds(1)
    /// Loopback round trips are tens of microseconds; below this, timing noise decides.
    public static let minimumRTT: Duration = .microseconds(200)
}

/// What the driver must act on.
public enum MuxEvent: Equatable, Sendable {
    /// The peer opens a session: check the allowlist, connect, then `accept` or `refuse`.
    case openRequested(UInt16, MuxTarget)
    /// A session opened here was acknowledged by the exit.
    case opened(UInt16)
    /// Data for the local socket; call `consumed` once it is written.
    case data(UInt16, [UInt8])
    /// One datagram of a UDP session, with the address its frame named (nil: the session's
    /// target); call `consumed` once it is sent (or dropped).
    case datagram(UInt16, [UInt8], MuxTarget?)
    /// The peer's direction is finished: shut the local socket's write side after the data.
    case remoteFinished(UInt16)
    /// The session is over: close the local socket, resetting it when there is an error code.
    case closed(UInt16, MuxErrorCode?)
    /// The peer's window reopened for a session that had data waiting.
    case sendable(UInt16)
    /// A remote open was refused by the link's limits (for logs and metrics; nothing to do).
    case refusedOpen(UInt16, MuxErrorCode)
}

/// The link is broken beyond one session: disconnect the peer with ProtocolError.
public enum MuxProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case frame(MuxFrameError)
    case unknownMessage(UInt64)
    case wrongParity(UInt16)
    case sessionInUse(UInt16)
    case windowOverflow(UInt16)
    /// Not thrown any more: refused opens keep one bit each, not a session record, so the
    /// ID space bounds them (kept so the enum does not change).

    public var description: String {
        switch self {
        case .frame(let e): return e.description
        case .unknownMessage(let id): return "unknown stk message 0x\(String(id, radix: 16))"
        case .wrongParity(let id): return "New with session ID \(id), which is not the peer's to pick"
        case .sessionInUse(let id): return "New for session \(id), which is in use"
        case .windowOverflow(let id): return "window of session \(id) past 2^31-1"
        }
    }
}

public struct MuxLinkStats: Sendable, Equatable {
    public var opened: UInt64 = 0
    public var accepted: UInt64 = 0
    public var refusedByLimit: UInt64 = 0
    public var flowViolations: UInt64 = 0
    public var unknownSessionFrames: UInt64 = 0
    public var windowStalls: UInt64 = 0
    public var windowGrowths: UInt64 = 0
    public var keepAlives: UInt64 = 0
    public var datagramsDropped: UInt64 = 0
}

/// One session as `stockade sessions` lists it.
public struct MuxSessionInfo: Sendable, Equatable {
    public var id: UInt16
    /// Opened by this node (entry side) or by the peer (exit side).
    public var local: Bool
    public var target: MuxTarget?
    public var state: String
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var receiveWindow: Int
    public var sendWindow: Int
    public var queued: Int
    public var unconsumed: Int
    public var age: Duration
}
