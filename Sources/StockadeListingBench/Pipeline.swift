import Control
import Foundation
import IPC

/// The listing's steps as the daemon takes them (before issue 10's changes: a verbatim copy of
/// PeerRunLoop.page, PeerManager's reply encoding and Supervisor.askPeerManager's join).
enum Pipeline {
    static func pmPage(_ all: [PeerInfo], from offset: Int) -> (String, Int?) {
        let budget = IPCLimits.maxControlReplyLength - 1024
        var used = 0, end = max(0, min(offset, all.count))
        while end < all.count {
            let size = ControlCoding.line(all[end]).count + 1
            if used + size > budget && end > offset { break }
            used += size
            end += 1
        }
        let (page, next) = (Array(all[min(offset, all.count)..<end]), end < all.count ? end : nil)
        var result = ControlResult(peers: page)
        result.next = next
        let json = String(decoding: ControlCoding.line(ControlReply.success(result)).dropLast(), as: UTF8.self)
        return (String(json.prefix(IPCLimits.maxControlReplyLength)), next)
    }

    static func supervisorJoin(_ pages: [String]) -> [UInt8] {
        var joined: ControlResult?
        for json in pages {
            let answer = (try? ControlCoding.decode(ControlReply.self, Array(json.utf8))) ?? .failure("unreadable")
            guard answer.ok, var page = answer.result else { return ControlCoding.line(answer) }
            if let joined {
                page.peers = joined.peers.map { $0 + (page.peers ?? []) } ?? page.peers
            }
            joined = page
        }
        joined?.next = nil
        return ControlCoding.line(ControlReply.success(joined))
    }
}
