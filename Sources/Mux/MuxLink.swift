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
    /// Ends answering frames for sessions that do not exist, at most one per ID.
    private var unknownEnds: [UInt16] = []
    private var unknownEndSet: Set<UInt16> = []
    private var windowUpdates: [MuxWindowUpdate] = []
    private var nextLocalID: UInt16
    /// Opens the remote made that the driver has not accepted or refused yet.
    private var pendingAccepts = 0
    /// Receive-window growth beyond the initial windows, in bytes (what the budget limits).
    public private(set) var windowGrowth = 0
    public private(set) var stats = MuxLinkStats()
    /// Bytes held for this link: queued to send plus received and not yet consumed.
    public private(set) var bufferedBytes = 0
    /// Refused remote opens still waiting for the peer's End.
    private var refusals = 0

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
        guard sessions[id] == nil else { throw .sessionInUse(id) }
        // Refused opens keep a record until the peer's End, so the ID is not reused under our
        // End; a peer that keeps opening without answering them is past any honest use.
        guard sessions.count < limits.maxSessions + limits.maxPendingOpens else { throw .ignoresLimits }
        var s = MuxSession(local: false, target: f.target, now: now, window: MuxLimits.initialWindow)
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
            s.phase = .ending
            s.pendingEnd = .init(error: refusal)
            s.reportedClosed = true
            s.isRefusal = true
            refusals += 1
            sessions[id] = s
            ready.insert(id)
            events.append(.refusedOpen(id, refusal))
            return
        }
        s.phase = .accepting
        pendingAccepts += 1
        sessions[id] = s
        events.append(.openRequested(id, f.target ?? MuxTarget(address: .ipv4([0, 0, 0, 0]), port: 0)))
        if !f.data.isEmpty || f.options.contains(.fin) {
            receiveKeep(MuxFrame.keep(id, data: f.data, fin: f.options.contains(.fin)), events: &events)
        }
    }

    private mutating func receiveKeep(_ f: MuxFrame, events: inout [MuxEvent]) {
        let id = f.sessionID
        guard var s = sessions[id] else {
            answerUnknown(id)
            return
        }
        defer { sessions[id] = s }
        // Ended by us: whatever was in flight is dropped quietly until the peer's End.
        guard s.pendingEnd == nil, !s.sentEnd else { return }
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
            events.append(.data(id, f.data))
        }
        if f.options.contains(.fin), !s.receivedFin {
            s.receivedFin = true
            events.append(.remoteFinished(id))
            endIfFinished(&s, id)
        }
    }

    private mutating func receiveEnd(_ f: MuxFrame, events: inout [MuxEvent]) {
        let id = f.sessionID
        guard var s = sessions[id] else { return }   // End for nothing: nothing to answer
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
        if unknownEndSet.insert(id).inserted { unknownEnds.append(id) }
    }

    // MARK: what the local side did

    /// Opens a session to `target`; nil when the link holds its limit of sessions or no ID is free.
    public mutating func open(_ target: MuxTarget, now: ContinuousClock.Instant) -> UInt16? {
        guard liveCount < limits.maxSessions else { return nil }
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
    public mutating func consumed(_ id: UInt16, _ count: Int, now: ContinuousClock.Instant, growthAllowance: Int) {
        guard var s = sessions[id], count > 0 else { return }
        s.unconsumed -= count
        bufferedBytes -= count
        s.unacknowledged += count
        guard !s.receivedFin, !s.receivedEnd, s.unacknowledged >= s.recvWindow / 2 else {
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
    /// about `maxBytes` long: pending window updates first (small, and they unblock the peer),
    /// then frames taken round robin. Nil when there is nothing to send.
    public mutating func nextMessage(maxBytes: Int = MuxLimits.messageSize) -> (id: UInt64, payload: [UInt8])? {
        if !windowUpdates.isEmpty {
            let take = min(windowUpdates.count, maxBytes / MuxWindowUpdate.entrySize)
            let batch = Array(windowUpdates.prefix(take))
            windowUpdates.removeFirst(take)
            return (MuxMessageID.windowUpdate, MuxWindowUpdate.encode(batch))
        }
        var out: [UInt8] = []
        while !unknownEnds.isEmpty, out.count < maxBytes {
            let id = unknownEnds.removeLast()
            unknownEndSet.remove(id)
            MuxFrameCodec.append(.end(id, error: .unknownSession), to: &out)
        }
        var turns = ready.count
        while out.count < maxBytes, turns > 0, let id = ready.popFirst() {
            turns -= 1
            guard var s = sessions[id] else { continue }
            emit(&s, id, into: &out)
            if s.sentEnd && s.receivedEnd {
                forget(id)
                continue
            }
            sessions[id] = s
            if s.hasSomethingToSend { ready.insert(id) }
            if turns == 0 && out.count < maxBytes { turns = ready.count }
        }
        return out.isEmpty ? nil : (MuxMessageID.frames, out)
    }

    /// One turn of one session: at most one chunk of data, with whatever control frame is due.
    private mutating func emit(_ s: inout MuxSession, _ id: UInt16, into out: inout [UInt8]) {
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
        let chunk = s.canSendData ? s.sendQueue.take(min(MuxLimits.chunk, s.sendCredit)) : []
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
        bufferedBytes -= s.sendQueue.count
        s.sendQueue.removeAll()
    }

    private mutating func forget(_ id: UInt16) {
        guard let s = sessions.removeValue(forKey: id) else { return }
        windowGrowth -= s.recvWindow - MuxLimits.initialWindow
        bufferedBytes -= s.sendQueue.count + s.unconsumed
        if s.isRefusal { refusals -= 1 }
        ready.remove(id)
    }

    // MARK: reading the state

    /// Sessions that count against `maxSessions`: refused ones waiting for the peer's End do not.
    public var liveCount: Int { sessions.count - refusals }
    public var sessionCount: Int { sessions.count }
    public func contains(_ id: UInt16) -> Bool { sessions[id] != nil }
    /// Bytes queued to send for `id` (the driver stops reading its socket above a watermark).
    public func queuedBytes(_ id: UInt16) -> Int { sessions[id]?.sendQueue.count ?? 0 }
    /// Whether `id` may send now (has window); false while the peer's window is spent.
    public func hasSendWindow(_ id: UInt16) -> Bool { (sessions[id]?.sendCredit ?? 0) > 0 }
    public var hasPendingOutput: Bool { !windowUpdates.isEmpty || !unknownEnds.isEmpty || !ready.isEmpty }

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
        self.maxWindow = max(Self.initialWindow, maxWindow)
    }

    /// yamux's initialStreamWindow: every session starts with 256 KiB each way. A protocol
    /// constant, not a setting: both sides must agree on it without a message.
    public static let initialWindow = 256 * 1024
    /// Data per frame and per round-robin turn. v2ray writes 8 KiB frames; 16 KiB halves the
    /// per-frame cost and still bounds a bulk session's delay to an interactive one.
    public static let chunk = 16 * 1024
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
    case ignoresLimits

    public var description: String {
        switch self {
        case .frame(let e): return e.description
        case .unknownMessage(let id): return "unknown stk message 0x\(String(id, radix: 16))"
        case .wrongParity(let id): return "New with session ID \(id), which is not the peer's to pick"
        case .sessionInUse(let id): return "New for session \(id), which is in use"
        case .windowOverflow(let id): return "window of session \(id) past 2^31-1"
        case .ignoresLimits: return "the peer keeps opening sessions without answering refusals"
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
