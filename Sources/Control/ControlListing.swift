import Foundation

/// The long listings (`peers`, `sessions`) in pages, each entry encoded once (issue 10).
///
/// The peer manager answers a listing in pages that each fit one IPC reply; the supervisor
/// asks for them one after another and joins them into the client's one reply line. A page is
/// the reply `ControlCoding` writes for `ControlResult(peers: page)` (with `next` while more
/// follow), built by splicing the entries' JSON into the encoded envelope rather than by
/// encoding the entries a second time; the supervisor splices the pages' entries likewise
/// instead of decoding and re-encoding them. The bytes are exactly the ones encoding the whole
/// reply gives (sorted keys: the list is the last member of `result`, `result` the last of a
/// success), which ControlProtocolTests checks.
public enum ControlListing {
    public enum Key: String, Sendable {
        case peers, sessions
    }

    /// The page of `all` from `offset` whose entries fit `budget` bytes (each counted as its
    /// line and a comma, as always; the first always fits), as its reply's JSON without the
    /// newline, and the offset of the next page if there is one.
    public static func page<T: Encodable>(_ all: [T], from offset: Int, key: Key, budget: Int) -> (json: [UInt8], next: Int?) {
        let start = max(0, min(offset, all.count))
        var used = 0, end = start
        var items: [UInt8] = []
        items.reserveCapacity(min(budget, 1 << 20))
        while end < all.count {
            let entry = ControlCoding.json(all[end]) ?? Data("{}".utf8)
            let size = entry.count + 2
            if used + size > budget && end > start { break }
            if end > start { items.append(0x2c) }
            items.append(contentsOf: entry)
            used += size
            end += 1
        }
        let next = end < all.count ? end : nil
        return (reply(key, items: items[...], next: next), next)
    }

    /// The success reply whose `key` list holds `items` (entries' JSON, comma-separated),
    /// without the newline.
    public static func reply(_ key: Key, items: ArraySlice<UInt8>, next: Int? = nil) -> [UInt8] {
        var result = ControlResult()
        switch key {
        case .peers: result.peers = []
        case .sessions: result.sessions = []
        }
        result.next = next
        var envelope = Array(ControlCoding.json(ControlReply.success(result)) ?? Data())
        guard let hole = find(Array("\"\(key.rawValue)\":[]".utf8), in: envelope[...]) else {
            preconditionFailure("an empty \(key.rawValue) list encodes as \"\(key.rawValue)\":[]")
        }
        envelope.insert(contentsOf: items, at: hole.upperBound - 1)
        return envelope
    }

    /// A page as `page` writes it, split into its reply without the entries (which says `ok`
    /// and `next`) and the entries' JSON; nil if `json` is no such page (a refusal, say).
    /// The entries are passed on as they are: the one thing checked is that they hold no
    /// newline, which would end the client's reply line early.
    public static func split(_ json: [UInt8], key: Key) -> (head: ControlReply, items: ArraySlice<UInt8>)? {
        let tail: [UInt8] = Array("]}}".utf8)
        guard json.count >= tail.count, json.suffix(tail.count).elementsEqual(tail),
              let open = find(Array("\"\(key.rawValue)\":[".utf8), in: json[...]) else { return nil }
        let items = json[open.upperBound..<(json.count - tail.count)]
        guard !items.contains(0x0a), let head = try? ControlCoding.decode(ControlReply.self, json[..<open.upperBound] + tail),
              head.ok, head.result != nil else { return nil }
        return (head, items)
    }

    /// The first occurrence of `needle` in `haystack`.
    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }
}
