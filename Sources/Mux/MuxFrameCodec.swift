/// Mux.Cool frames to bytes and back. Pure: bytes in, values out (ipc/MUX.md has golden frames).
public enum MuxFrameCodec {
    /// v2ray's reader refuses metadata longer than 512 bytes (`common/mux/frame.go`).
    public static let maximumMetadataLength = 512
    /// The smallest metadata: session ID, status, option.
    static let minimumMetadataLength = 4

    /// Appends `frame`'s encoding to `out`. The caller keeps `data` within 65,535 bytes and a
    /// domain within 1...255 bytes (what the 2-byte and 1-byte lengths can say).
    public static func append(_ frame: MuxFrame, to out: inout [UInt8]) {
        let lengthAt = out.count
        out.append(contentsOf: [0, 0])
        out.append(UInt8(frame.sessionID >> 8))
        out.append(UInt8(truncatingIfNeeded: frame.sessionID))
        out.append(frame.status.rawValue)
        var options = frame.options
        if frame.data.isEmpty { options.remove(.data) } else { options.insert(.data) }
        if frame.status == .end, frame.errorCode != nil { options.insert(.error) }
        out.append(options.rawValue)
        // New names the target; a Keep of a UDP session may name its datagram's address (the
        // destination from the opener, the source from the other side), as Xray's XUDP does.
        if frame.status == .new || frame.status == .keep, let target = frame.target {
            out.append(target.network.rawValue)
            out.append(UInt8(target.port >> 8))
            out.append(UInt8(truncatingIfNeeded: target.port))
            switch target.address {
            case .ipv4(let b):
                out.append(0x01)
                out += b
            case .domain(let d):
                out.append(0x02)
                let bytes = Array(d.utf8.prefix(255))
                out.append(UInt8(bytes.count))
                out += bytes
            case .ipv6(let b):
                out.append(0x03)
                out += b
            }
        }
        if frame.status == .end, let code = frame.errorCode { out.append(code.rawValue) }
        let metadataLength = out.count - lengthAt - 2
        out[lengthAt] = UInt8(metadataLength >> 8)
        out[lengthAt + 1] = UInt8(truncatingIfNeeded: metadataLength)
        if !frame.data.isEmpty {
            out.append(UInt8(frame.data.count >> 8))
            out.append(UInt8(truncatingIfNeeded: frame.data.count))
            out += frame.data
        }
    }

    /// The bytes of a New frame with data for `target`, besides the data: metadata length,
    /// metadata (ID, status, option, network, port, address type, address), data length.
    static func newFrameOverhead(_ target: MuxTarget) -> Int {
        let address: Int
        switch target.address {
        case .ipv4: address = 4
        case .ipv6: address = 16
        case .domain(let d): address = 1 + min(d.utf8.count, 255)
        }
        return 2 + 8 + address + 2
    }

    public static func encode(_ frames: [MuxFrame]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames { append(f, to: &out) }
        return out
    }

    /// Every frame in a Frames message, in order. The payload must hold whole frames only.
    public static func decode(_ payload: [UInt8]) throws(MuxFrameError) -> [MuxFrame] {
        var frames: [MuxFrame] = []
        var at = 0
        while at < payload.count {
            frames.append(try decodeFrame(payload, at: &at))
        }
        return frames
    }

    /// One frame at `at`, advancing it past the frame.
    static func decodeFrame(_ p: [UInt8], at: inout Int) throws(MuxFrameError) -> MuxFrame {
        let metadataLength = try readUInt16(p, &at, what: "metadata length")
        guard metadataLength >= minimumMetadataLength else { throw .malformed("metadata of \(metadataLength) bytes (at least 4)") }
        guard metadataLength <= maximumMetadataLength else { throw .malformed("metadata of \(metadataLength) bytes (at most 512)") }
        guard p.count - at >= metadataLength else { throw .truncated("metadata") }
        let metaStart = at, metaEnd = at + metadataLength
        at = metaEnd
        let sessionID = UInt16(p[metaStart]) << 8 | UInt16(p[metaStart + 1])
        guard let status = MuxSessionStatus(rawValue: p[metaStart + 2]) else {
            throw .malformed("unknown session status 0x\(String(p[metaStart + 2], radix: 16))")
        }
        // Unknown option bits are ignored, as v2ray's reader does.
        let options = MuxOptions(rawValue: p[metaStart + 3] & (MuxOptions.data.rawValue | MuxOptions.error.rawValue | MuxOptions.fin.rawValue))
        var frame = MuxFrame(sessionID: sessionID, status: status, options: options)
        var m = metaStart + 4
        // A Keep carries an address only when the byte after its option is UDP's network
        // (v2ray's and Xray's readers do the same); other extra bytes are skipped as before.
        if status == .new || (status == .keep && metaEnd > m && p[m] == MuxNetwork.udp.rawValue) {
            frame.target = try readTarget(p, &m, end: metaEnd)
        } else if status == .end, options.contains(.error), m < metaEnd {
            frame.errorCode = MuxErrorCode(rawValue: p[m])
        }
        // Metadata bytes after the known fields are skipped (v2ray does the same).
        if options.contains(.data) {
            let length = try readUInt16(p, &at, what: "data length")
            guard p.count - at >= length else { throw .truncated("data") }
            frame.data = Array(p[at..<at + length])
            at += length
            // A Data option with no bytes says nothing: the value carries the option exactly
            // when it carries data, as `append` writes it.
            if length == 0 { frame.options.remove(.data) }
        }
        return frame
    }

    private static func readTarget(_ p: [UInt8], _ m: inout Int, end: Int) throws(MuxFrameError) -> MuxTarget {
        guard end - m >= 4 else { throw .malformed("New without network, port and address type") }
        guard let network = MuxNetwork(rawValue: p[m]) else { throw .malformed("unknown network 0x\(String(p[m], radix: 16))") }
        let port = UInt16(p[m + 1]) << 8 | UInt16(p[m + 2])
        let type = p[m + 3]
        m += 4
        let address: MuxAddress
        switch type {
        case 0x01:
            guard end - m >= 4 else { throw .malformed("IPv4 address cut short") }
            address = .ipv4(Array(p[m..<m + 4]))
            m += 4
        case 0x03:
            guard end - m >= 16 else { throw .malformed("IPv6 address cut short") }
            address = .ipv6(Array(p[m..<m + 16]))
            m += 16
        case 0x02:
            guard end - m >= 1 else { throw .malformed("domain without its length") }
            let length = Int(p[m])
            // Length 0 is v2ray's encoding of a 256-byte name (its writer's overflow): refused.
            guard length > 0 else { throw .malformed("empty domain") }
            guard end - m - 1 >= length else { throw .malformed("domain cut short") }
            // Refused unless valid UTF-8: a name decoded with replacement characters would not
            // be the name the peer sent (and would not re-encode to its bytes).
            guard let name = String(validating: p[m + 1..<m + 1 + length], as: UTF8.self) else {
                throw .malformed("domain is not UTF-8")
            }
            address = .domain(name)
            m += 1 + length
        default:
            throw .malformed("unknown address type 0x\(String(type, radix: 16))")
        }
        return MuxTarget(network: network, address: address, port: port)
    }

    private static func readUInt16(_ p: [UInt8], _ at: inout Int, what: String) throws(MuxFrameError) -> Int {
        guard p.count - at >= 2 else { throw .truncated(what) }
        defer { at += 2 }
        return Int(p[at]) << 8 | Int(p[at + 1])
    }
}

/// A Frames or WindowUpdate message that cannot be read: the peer is disconnected with
/// ProtocolError (a malformed frame is the link's fault, not one session's).
public enum MuxFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let what): return "mux frame cut short in its \(what)"
        case .malformed(let why): return "malformed mux frame: \(why)"
        }
    }
}

/// The `stk/1` WindowUpdate message (id 0x01 of the capability): one or more 6-byte entries,
/// session ID (2, big-endian) then increment (4, big-endian, 1...2^31-1): the receiver of
/// that session's data allows this many more bytes (yamux's WindowUpdate, RFC 9113 6.9).
public struct MuxWindowUpdate: Equatable, Sendable {
    public var sessionID: UInt16
    public var increment: UInt32

    public init(sessionID: UInt16, increment: UInt32) {
        self.sessionID = sessionID
        self.increment = increment
    }

    public static let entrySize = 6
    /// RFC 9113 6.9.1: a window may not exceed 2^31-1.
    public static let maximumIncrement: UInt32 = 0x7fff_ffff

    public static func encode(_ updates: [MuxWindowUpdate]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(updates.count * entrySize)
        for u in updates {
            out += [UInt8(u.sessionID >> 8), UInt8(truncatingIfNeeded: u.sessionID),
                    UInt8(u.increment >> 24), UInt8(truncatingIfNeeded: u.increment >> 16),
                    UInt8(truncatingIfNeeded: u.increment >> 8), UInt8(truncatingIfNeeded: u.increment)]
        }
        return out
    }

    public static func decode(_ p: [UInt8]) throws(MuxFrameError) -> [MuxWindowUpdate] {
        guard !p.isEmpty, p.count % entrySize == 0 else {
            throw .malformed("window update of \(p.count) bytes (a non-zero multiple of 6)")
        }
        var updates: [MuxWindowUpdate] = []
        updates.reserveCapacity(p.count / entrySize)
        for i in stride(from: 0, to: p.count, by: entrySize) {
            let id = UInt16(p[i]) << 8 | UInt16(p[i + 1])
            let inc = UInt32(p[i + 2]) << 24 | UInt32(p[i + 3]) << 16 | UInt32(p[i + 4]) << 8 | UInt32(p[i + 5])
            guard inc > 0, inc <= maximumIncrement else { throw .malformed("window increment \(inc) (1...2^31-1)") }
            updates.append(MuxWindowUpdate(sessionID: id, increment: inc))
        }
        return updates
    }
}

/// The `stk/1` capability's messages, ids relative to its offset (ipc/MUX.md).
public enum MuxMessageID {
    /// Mux.Cool frames, back to back.
    public static let frames: UInt64 = 0x00
    /// Window updates.
    public static let windowUpdate: UInt64 = 0x01
}
