import Mux
import XCTest

/// Two links wired back to back, a dialer `a` and a listener `b`: `pump` moves each one's
/// `nextMessage` into the other's `receive` and keeps the events each side saw.
struct LinkPair {
    enum Side { case a, b }

    var a: MuxLink
    var b: MuxLink
    var eventsA: [MuxEvent] = []
    var eventsB: [MuxEvent] = []
    /// Sides whose driver writes out and consumes data as soon as it arrives.
    var consuming: Set<Side> = [.a, .b]
    var now = ContinuousClock.now
    /// Payloads each side sent, in order.
    var sentByA: [(id: UInt64, payload: [UInt8])] = []
    var sentByB: [(id: UInt64, payload: [UInt8])] = []

    init(limits: MuxLimits = MuxLimits(maxSessions: 64, maxPendingOpens: 16, maxWindow: 4 << 20)) {
        a = MuxLink(role: .dialer, limits: limits)
        b = MuxLink(role: .listener, limits: limits)
    }

    /// At most `limit` messages from `side` to the other; returns how many moved.
    @discardableResult
    mutating func deliver(from side: Side, limit: Int = .max) throws -> Int {
        var moved = 0
        while moved < limit {
            let message = side == .a ? a.nextMessage() : b.nextMessage()
            guard let message else { break }
            moved += 1
            if side == .a { sentByA.append(message) } else { sentByB.append(message) }
            let events: [MuxEvent]
            if side == .a {
                events = try b.receive(messageID: message.id, payload: message.payload, now: now)
                eventsB += events
            } else {
                events = try a.receive(messageID: message.id, payload: message.payload, now: now)
                eventsA += events
            }
            let receiver: Side = side == .a ? .b : .a
            guard consuming.contains(receiver) else { continue }
            for event in events {
                let id: UInt16, count: Int
                switch event {
                case .data(let s, let bytes), .datagram(let s, let bytes, _): (id, count) = (s, bytes.count)
                default: continue
                }
                if receiver == .a { a.consumed(id, count, now: now, growthAllowance: .max) }
                else { b.consumed(id, count, now: now, growthAllowance: .max) }
            }
        }
        return moved
    }

    /// Both ways until both sides are quiet.
    mutating func pump(file: StaticString = #filePath, line: UInt = #line) throws {
        for _ in 0..<100_000 {
            if try deliver(from: .a) + deliver(from: .b) == 0 { return }
        }
        XCTFail("links never went quiet", file: file, line: line)
    }

    /// The data each side received on `id`, joined.
    func received(by side: Side, on id: UInt16) -> [UInt8] {
        var out: [UInt8] = []
        for case .data(let s, let bytes) in side == .a ? eventsA : eventsB where s == id { out += bytes }
        return out
    }

    /// A session the dialer opens and the listener accepts, with both sides quiet after.
    mutating func openAccepted(file: StaticString = #filePath, line: UInt = #line) throws -> UInt16 {
        let id = try XCTUnwrap(a.open(tcp80, now: now), file: file, line: line)
        try pump(file: file, line: line)
        b.accept(id)
        try pump(file: file, line: line)
        return id
    }

    /// Accepts every open the listener was asked for so far.
    mutating func acceptAll(on side: Side = .b) {
        for case .openRequested(let id, _) in side == .a ? eventsA : eventsB {
            if side == .a { a.accept(id) } else { b.accept(id) }
        }
    }
}

/// The frames of the Frames messages in `messages`.
func frames(_ messages: [(id: UInt64, payload: [UInt8])]) throws -> [MuxFrame] {
    try messages.filter { $0.id == MuxMessageID.frames }.flatMap { try MuxFrameCodec.decode($0.payload) }
}

/// `count` bytes of a pattern that differs per `seed` (built by doubling: tests queue MiBs).
func bytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    var out = (0..<min(count, 251)).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    out.reserveCapacity(count)
    while out.count < count { out += out.prefix(count - out.count) }
    return out
}

let tcp80 = MuxTarget(address: .ipv4([10, 0, 0, 1]), port: 80)
