import Control
import Foundation
import IPC

/// The listing's steps as the daemon takes them: PeerRunLoop.page (ControlListing.page, each
/// entry encoded once) and PeerManager's IPC reply string; Supervisor.askPeerManagerListing's
/// splice of the pages' entries into the client's line (no decoding, no re-encoding).
/// (Before issue 10's change this file copied the old steps: every entry encoded twice in the
/// peer manager, every page decoded and the whole listing re-encoded by the supervisor.)
enum Pipeline {
    static func pmPage(_ all: [PeerInfo], from offset: Int) -> (String, Int?) {
        let (reply, next) = ControlListing.page(all, from: offset, key: .peers, budget: IPCLimits.maxControlReplyLength - 1024)
        let json = String(decoding: reply, as: UTF8.self)
        guard reply.count > IPCLimits.maxControlReplyLength else { return (json, next) }
        return (String(json.prefix(IPCLimits.maxControlReplyLength)), next)
    }

    static func supervisorJoin(_ pages: [String]) -> [UInt8] {
        var joined: [UInt8]?
        for json in pages {
            let bytes = Array(json.utf8)
            guard let (head, items) = ControlListing.split(bytes, key: .peers) else {
                return ControlCoding.line((try? ControlCoding.decode(ControlReply.self, bytes)) ?? .failure("unreadable"))
            }
            if joined == nil && head.result?.next == nil { return bytes + [0x0a] }
            var all = joined ?? []
            if !items.isEmpty {
                if !all.isEmpty { all.append(0x2c) }
                all.append(contentsOf: items)
            }
            joined = all
        }
        return ControlListing.reply(.peers, items: (joined ?? [])[...]) + [0x0a]
    }
}
