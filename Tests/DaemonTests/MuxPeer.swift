import DevP2P
import Enode
import Foundation
import Mux
import PeerLink
import Secp256k1
import XCTest

/// A raw `stk/1` peer for the hostile tests: a PeerLink (an independent RLPx client) that sends
/// and reads Mux.Cool frames and window updates itself. It answers the daemon's Pings, keeps
/// frames that arrive while it waits for something else, and reports a Disconnect as an error.
final class MuxPeer {
    let link: PeerLink
    /// Frames received and not yet taken by a wait.
    private(set) var backlog: [MuxFrame] = []
    /// Window increments received, by session.
    private(set) var windowCredit: [UInt16: Int] = [:]

    /// The capability's message ids after the base protocol's 16 (ipc/MUX.md).
    static let framesID: UInt64 = 0x10 + MuxMessageID.frames
    static let windowUpdateID: UInt64 = 0x10 + MuxMessageID.windowUpdate

    init(dialing enode: EnodeURL, key: PrivateKey) throws {
        link = try TestPeer.dial(enode, key: key)
    }

    func send(_ frames: [MuxFrame]) throws {
        try sendRaw(id: Self.framesID, MuxFrameCodec.encode(frames))
    }

    func sendRaw(id: UInt64, _ payload: [UInt8]) throws {
        try link.send(Message(id: id, payload: payload), timeout: .seconds(10))
    }

    /// Reads one message and files it; true if it was a Pong. Throws on Disconnect or a closed link.
    @discardableResult
    private func pumpOne(timeout: Duration) throws -> Bool {
        let message = try link.receive(timeout: timeout)
        switch message.id {
        case Self.framesID:
            backlog += try MuxFrameCodec.decode(message.payload)
        case Self.windowUpdateID:
            for u in try MuxWindowUpdate.decode(message.payload) { windowCredit[u.sessionID, default: 0] += Int(u.increment) }
        default:
            switch try? BaseProtocolMessage.decode(message) {
            case .ping: try link.send(.pong, timeout: .seconds(5))
            case .pong: return true
            case .disconnect(let reason): throw PeerLinkError.remoteDisconnected(reason)
            default: break
            }
        }
        return false
    }

    /// The first frame (received now or earlier) that `matches`, taken from the backlog; nil
    /// when none came within `timeout`.
    func waitFrame(timeout: TimeInterval = 15, _ matches: (MuxFrame) -> Bool) throws -> MuxFrame? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if let i = backlog.firstIndex(where: matches) { return backlog.remove(at: i) }
            let left = end.timeIntervalSinceNow
            guard left > 0 else { return nil }
            do {
                try pumpOne(timeout: .milliseconds(Int64(max(1, left * 1000))))
            } catch PeerLinkError.timeout {
                return nil
            }
        }
    }

    /// The End the daemon sends for `id`, with its error code. When the daemon ended the
    /// session first (`answer`), our End follows, so it can forget the session. Nil if none came.
    func waitEnd(_ id: UInt16, answer: Bool = true, timeout: TimeInterval = 15) throws -> MuxFrame? {
        guard let end = try waitFrame(timeout: timeout, { $0.sessionID == id && $0.status == .end }) else { return nil }
        if answer { try send([.end(id)]) }
        return end
    }

    /// Data of session `id` until `count` bytes arrived (frames of other sessions are kept).
    func readData(_ id: UInt16, count: Int, timeout: TimeInterval = 15) throws -> [UInt8] {
        var got: [UInt8] = []
        let end = Date().addingTimeInterval(timeout)
        while got.count < count {
            guard let f = try waitFrame(timeout: max(0.01, end.timeIntervalSinceNow), { $0.sessionID == id && $0.status != .new }) else { break }
            if f.status == .end { throw DaemonTestError("session \(id) ended (error \(f.errorCode.map { "\($0.rawValue)" } ?? "none")) after \(got.count) bytes") }
            got += f.data
        }
        return got
    }

    /// A Ping answered with Pong, frames meanwhile kept; throws if the daemon dropped the link.
    func ping(timeout: TimeInterval = 10) throws {
        try link.send(.ping, timeout: .seconds(5))
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try pumpOne(timeout: .milliseconds(Int64(max(1, end.timeIntervalSinceNow * 1000)))) { return }
        }
        throw DaemonTestError("no Pong within \(timeout) s")
    }

    /// Opens session `id` to `target` with `probe` as its first data and checks that the target
    /// (an echo server) answers with exactly `probe`: the session really opened and carries data.
    func openEcho(_ id: UInt16, _ target: MuxTarget, probe: [UInt8], timeout: TimeInterval = 15) throws -> [UInt8] {
        try send([.new(id, target: target, data: probe)])
        return try readData(id, count: probe.count, timeout: timeout)
    }

    /// The reason of the Disconnect the daemon sends next (nil if the link just closed or nothing came).
    func waitDisconnect(timeout: TimeInterval = 15) -> DisconnectReason? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            do {
                try pumpOne(timeout: .milliseconds(Int64(max(1, end.timeIntervalSinceNow * 1000))))
            } catch PeerLinkError.remoteDisconnected(let reason) {
                return reason
            } catch {
                return nil
            }
        }
        return nil
    }
}
